/**
 * Simulator scale benchmark (DESIGN §6): `dragonfly` on the default scenario at 1,000 and
 * 10,000 hosts x 1 GiB, and 100,000 hosts with a smaller file (64 MiB by default: at 1 GiB the
 * run is ~50 M events). Each size runs in a child process so its peak memory is its own.
 * Prints a table (events/s, wall and CPU time, peak RSS and heap) and writes
 * out/bench/sim-scale.csv. Targets: 1,000 hosts <= 5 s, 10,000 <= 60 s, 100,000 within 8 GiB.
 *
 *   npm run bench:sim                       all three sizes
 *   npm run bench:sim -- 1000:1GiB 5000:256MiB   chosen sizes (hosts:fileSize)
 * Wall time depends on what else the machine runs; CPU time is printed beside it for that reason.
 * Children run with --max-semi-space-size=64: the run allocates many short-lived messages, and a
 * larger young generation cut a 10,000-host run by about a fifth (34 s -> 27.5 s at 128 MiB).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { getHeapStatistics } from 'node:v8';
import { stringify } from 'csv-stringify/sync';
import { parseBytes, formatBytes } from '../core/units.ts';

interface Measurement {
  hosts: number;
  fileSizeBytes: number;
  events: number;
  wallMs: number;
  cpuMs: number;
  eventsPerSec: number;
  peakRssBytes: number;
  peakHeapBytes: number;
  efficiency: number;
  completedHosts: number;
  originCopies: number;
}

const TARGET_WALL_MS: Record<number, number> = { 1000: 5000, 10000: 60000 };
const MEMORY_LIMIT_BYTES = 8 * 1024 ** 3;

async function child(hosts: number, fileSizeBytes: number): Promise<void> {
  const { loadScenario } = await import('../sim/scenario.ts');
  const { buildWorld } = await import('../sim/world.ts');
  const { runStrategy } = await import('../sim/strategies/index.ts');
  const scenario = { ...loadScenario('default'), hostCount: hosts, fileSizeBytes };
  let peakHeapBytes = 0;
  const cpuBefore = process.cpuUsage();
  const result = runStrategy('dragonfly', buildWorld(scenario), {
    progress: () => { peakHeapBytes = Math.max(peakHeapBytes, getHeapStatistics().used_heap_size); },
  });
  const cpu = process.cpuUsage(cpuBefore);
  peakHeapBytes = Math.max(peakHeapBytes, getHeapStatistics().used_heap_size);
  const m: Measurement = {
    hosts, fileSizeBytes, events: result.events, wallMs: result.wallMs, cpuMs: (cpu.user + cpu.system) / 1000,
    eventsPerSec: result.events / (result.wallMs / 1000), peakRssBytes: process.resourceUsage().maxRSS * 1024, peakHeapBytes,
    efficiency: result.efficiency, completedHosts: result.completedHosts, originCopies: result.originEgressBytes / fileSizeBytes,
  };
  console.log(JSON.stringify(m));
}

function parent(sizes: string[]): void {
  const rows: Measurement[] = [];
  for (const size of sizes) {
    const [hostsText, fileText] = size.split(':');
    const hosts = Number(hostsText);
    const fileSizeBytes = parseBytes(fileText ?? '1GiB');
    if (!Number.isInteger(hosts) || hosts < 1) throw new Error(`bad size "${size}": expected hosts:fileSize like 1000:1GiB`);
    process.stderr.write(`bench:sim: ${hosts} hosts x ${formatBytes(fileSizeBytes)} ... `);
    const run = spawnSync(process.execPath, ['--max-old-space-size=7600', '--max-semi-space-size=64', '--import', 'tsx', fileURLToPath(import.meta.url), '--child', String(hosts), String(fileSizeBytes)],
      { encoding: 'utf8', maxBuffer: 1 << 24 });
    if (run.status !== 0) {
      process.stderr.write('failed\n');
      console.error(run.stderr);
      process.exitCode = 1;
      continue;
    }
    const m = JSON.parse(run.stdout.trim().split('\n').pop()!) as Measurement;
    process.stderr.write(`${(m.wallMs / 1000).toFixed(1)} s\n`);
    rows.push(m);
  }
  const header = ['hosts', 'file', 'events', 'events/s', 'wall s', 'cpu s', 'target', 'peak RSS', 'peak heap', 'efficiency', 'done'];
  const table = rows.map((m) => [
    String(m.hosts), formatBytes(m.fileSizeBytes), String(m.events), Math.round(m.eventsPerSec).toString(),
    (m.wallMs / 1000).toFixed(2), (m.cpuMs / 1000).toFixed(2),
    TARGET_WALL_MS[m.hosts] && m.fileSizeBytes === 1024 ** 3 ? `<= ${TARGET_WALL_MS[m.hosts] / 1000} s: ${m.wallMs <= TARGET_WALL_MS[m.hosts] ? 'met' : 'MISSED'}`
      : m.hosts >= 100000 ? `<= 8 GiB: ${m.peakRssBytes <= MEMORY_LIMIT_BYTES ? 'met' : 'MISSED'}` : '-',
    formatBytes(m.peakRssBytes), formatBytes(m.peakHeapBytes), m.efficiency.toFixed(3), `${m.completedHosts}/${m.hosts}`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i])).join('  ');
  console.log([line(header), ...table.map(line)].join('\n'));
  mkdirSync('out/bench', { recursive: true });
  writeFileSync('out/bench/sim-scale.csv', stringify(rows, { header: true }));
  console.error('bench:sim: wrote out/bench/sim-scale.csv');
}

const args = process.argv.slice(2);
if (args[0] === '--child') await child(Number(args[1]), Number(args[2]));
else parent(args.length > 0 ? args : ['1000:1GiB', '10000:1GiB', '100000:64MiB']);
