/**
 * dfget, loaded and waiting for its start signal: the testbed's "warm" host. It loads dfget's
 * modules (paying node and tsx start-up before the run's t = 0), prints "armed", and runs dfget's
 * own `main` with its arguments when the line "go" arrives on stdin, and reports the CPU the download
 * used on stderr. Everything after "go" is
 * the real dfget; only the start-up, which the simulator does not model and which on one shared
 * machine is paid by every host's process on the same cores at once, moves out of the timing.
 *
 *   node --import tsx bench/calibrate/dfget-armed.ts <dfget flags...>
 */
import { createInterface } from 'node:readline';
import { main } from '../../transport/dfget/cli.ts';
import { CPU_LINE_PREFIX } from './counters.ts';

process.stdout.write('armed\n');
const lines = createInterface({ input: process.stdin });
const go = await new Promise<boolean>((resolve) => {
  lines.on('line', (line) => { if (line.trim() === 'go') resolve(true); });
  lines.once('close', () => resolve(false));
});
lines.close();
// Stdin closed before "go": the testbed went away; nothing to download.
if (!go) process.exit(130);
const before = process.cpuUsage();
const code = await main([process.argv[0], 'dfget', ...process.argv.slice(2)]);
// The download's own CPU, for the testbed's "did the CPU bind?" accounting (stderr: stdout is dfget's).
const used = process.cpuUsage(before);
process.stderr.write(`${CPU_LINE_PREFIX}${JSON.stringify({ cpuMs: (used.user + used.system) / 1000 })}\n`);
process.exit(code);
