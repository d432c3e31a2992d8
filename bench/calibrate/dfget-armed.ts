/**
 * dfget, loaded and waiting for its start signal: the testbed's "warm" host. It loads dfget's
 * modules (compiled, from dist/; paying node start-up before the run's t = 0), prints "armed", and runs dfget's
 * own `main` with its arguments when the line "go" arrives on stdin, and reports the CPU the download
 * used on stderr. Everything after "go" is
 * the real dfget; only the start-up, which the simulator does not model and which on one shared
 * machine is paid by every host's process on the same cores at once, moves out of the timing.
 *
 *   node --import tsx bench/calibrate/dfget-armed.ts <dfget flags...>
 */
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { CPU_LINE_PREFIX, runQueueWaitMsOf } from './counters.ts';

// The compiled dfget the bins run (npm run build), with the download's modules loaded now: cli.js
// imports them only once the flags are good, which would otherwise fall after "go".
const DIST = new URL('../../dist/transport/dfget/', import.meta.url);
const { main } = await import(new URL('cli.js', DIST).href) as typeof import('../../transport/dfget/cli.ts');
await import(new URL('cli-run.js', DIST).href);

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
// The main thread (the event loop): its waits for a CPU delay every step of the download.
const waitAtGo = runQueueWaitMsOf('/proc/self/schedstat', (path) => readFileSync(path, 'utf8'));
const code = await main([process.argv[0], 'dfget', ...process.argv.slice(2)]);
// The download's own CPU, for the testbed's "did the CPU bind?" accounting (stderr: stdout is dfget's).
const used = process.cpuUsage(before);
const waitAtExit = runQueueWaitMsOf('/proc/self/schedstat', (path) => readFileSync(path, 'utf8'));
const waitMs = waitAtGo !== null && waitAtExit !== null ? waitAtExit - waitAtGo : null;
process.stderr.write(`${CPU_LINE_PREFIX}${JSON.stringify({ cpuMs: (used.user + used.system) / 1000, waitMs })}\n`);
process.exit(code);
