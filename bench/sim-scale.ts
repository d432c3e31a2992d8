/**
 * Simulator scale benchmark (DESIGN §6, issue 10): `dragonfly` on the default scenario (1 GiB,
 * 1 Gbit/s hosts and origin) at 1,000 and 10,000 hosts with the seed's defaults, at 10,000 with
 * the tuned settings the scale notebook found, and at 100,000 with the seed's defaults. Each run
 * is a child process so its peak memory is its own. Prints a table (events, events per second of
 * wall and of CPU time, wall and CPU time, peak RSS and heap, efficiency, trace hash) and each
 * run's events per host-piece by kind, and writes out/bench/sim-scale.csv.
 *
 *   npm run bench:sim                                     all four runs
 *   npm run bench:sim -- 1000:1GiB 5000:256MiB:tuned      chosen runs (hosts:fileSize[:defaults|tuned])
 *   npm run bench:sim -- --no-reference 10000:1GiB        without the reference runs (below)
 *
 * Targets: 10,000 hosts x 1 GiB with seed defaults <= 30 s wall; tuned <= 90 s wall and
 * efficiency >= 0.90; 100,000 hosts x 1 GiB within 8 GiB of memory. Wall time depends on what
 * else the machine runs, so CPU time and events per CPU second are printed beside it, and so is
 * the machine's state at the time: a reference run (REFERENCE: 200 hosts, whose whole state fits
 * the caches) before and after the runs asked for, and each run's events per CPU second as a
 * fraction of the reference's. A large swarm's events cost more than a small one's because each
 * touches the state of hosts spread over hundreds of MiB; on a shared machine that memory's speed
 * moves on its own (the same 10,000-host run took 29.65 s and 54.8 s on the same code), and the
 * fraction shows it for runs of many seconds (one of a second or two is mostly the JIT warming
 * up, as is part of the reference). `--no-reference` skips it.
 * Children run with the simulator's young generation (sim/heap.ts, SIM_SEMI_SPACE_FLAG): the run
 * allocates many short-lived messages, and a larger young generation lets them die young.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { getHeapStatistics } from 'node:v8';
import { stringify } from 'csv-stringify/sync';
import type { CoreConfig } from '../core/config.ts';
import { planPieces } from '../core/pieces.ts';
import { parseBytes, formatBytes } from '../core/units.ts';
import { SIM_SEMI_SPACE_FLAG } from '../sim/heap.ts';

/** The best settings of `npm run notebook -- scale` (its sweep at 2,000 hosts). */
export const TUNED: Partial<CoreConfig> = { pieceSizeBytes: 2 * 1024 * 1024, piecesPerPull: 4, peerDownLimit: 4, peerUpLimit: 4 };

type Preset = 'defaults' | 'tuned';

interface Measurement {
  hosts: number;
  fileSizeBytes: number;
  settings: Preset;
  events: number;
  wallMs: number;
  cpuMs: number;
  eventsPerSec: number;
  eventsPerCpuSec: number;
  peakRssBytes: number;
  peakHeapBytes: number;
  efficiency: number;
  completedHosts: number;
  originCopies: number;
  /** The run's trace hash (sim/engine.ts): equal before and after a change that must not change results. */
  traceHash: string;
  /** Pieces every host fetched (the file's piece count), and the events by kind (sim/engine.ts eventsByKind). */
  pieceCount: number;
  eventsByKind: Record<string, number>;
  /** Events per CPU second of the reference runs around this one (mean), and this run's as a fraction of it; null without (set by the parent). */
  referenceEventsPerCpuSec: number | null;
  vsReference: number | null;
}

/** The reference run: small enough for its state to stay in the caches, long enough (about 0.5 M events) to time. */
const REFERENCE = '200:1GiB:tuned';

const MEMORY_LIMIT_BYTES = 8 * 1024 ** 3;
const GiB = 1024 ** 3;

function target(m: Measurement): string {
  if (m.fileSizeBytes !== GiB) return '-';
  if (m.hosts === 10000 && m.settings === 'defaults') return `<= 30 s wall: ${m.wallMs <= 30_000 ? 'met' : 'MISSED'}`;
  if (m.hosts === 10000 && m.settings === 'tuned') {
    return `<= 90 s wall: ${m.wallMs <= 90_000 ? 'met' : 'MISSED'}; eff >= 0.90: ${m.efficiency >= 0.9 ? 'met' : 'MISSED'}`;
  }
  if (m.hosts >= 100000) return `<= 8 GiB: ${m.peakRssBytes <= MEMORY_LIMIT_BYTES ? 'met' : 'MISSED'}`;
  return '-';
}

async function child(hosts: number, fileSizeBytes: number, settings: Preset): Promise<void> {
  const { loadScenario } = await import('../sim/scenario.ts');
  const { buildWorld } = await import('../sim/world.ts');
  const { runStrategy } = await import('../sim/strategies/index.ts');
  const base = loadScenario('default');
  const scenario = { ...base, hostCount: hosts, fileSizeBytes, core: settings === 'tuned' ? { ...base.core, ...TUNED } : base.core };
  let peakHeapBytes = 0;
  let lastHeapCheckEvents = 0;
  const cpuBefore = process.cpuUsage();
  const result = runStrategy('dragonfly', buildWorld(scenario), {
    progress: (sim) => {
      if (sim.events - lastHeapCheckEvents < 1 << 18) return;
      lastHeapCheckEvents = sim.events;
      peakHeapBytes = Math.max(peakHeapBytes, getHeapStatistics().used_heap_size);
    },
  });
  const cpu = process.cpuUsage(cpuBefore);
  peakHeapBytes = Math.max(peakHeapBytes, getHeapStatistics().used_heap_size);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  const m: Measurement = {
    hosts, fileSizeBytes, settings, events: result.events, wallMs: result.wallMs, cpuMs,
    eventsPerSec: result.events / (result.wallMs / 1000), eventsPerCpuSec: result.events / (cpuMs / 1000),
    peakRssBytes: process.resourceUsage().maxRSS * 1024, peakHeapBytes,
    efficiency: result.efficiency, completedHosts: result.completedHosts, originCopies: result.originEgressBytes / fileSizeBytes,
    traceHash: result.traceHash,
    pieceCount: planPieces(fileSizeBytes, scenario.core.pieceSizeBytes ?? 0).pieceCount, eventsByKind: result.eventsByKind,
    referenceEventsPerCpuSec: null, vsReference: null,
  };
  console.log(JSON.stringify(m));
}

/** `hosts:fileSize[:defaults|tuned]`, checked. */
function parseRun(run: string): { hosts: number; fileSizeBytes: number; settings: Preset } {
  const [hostsText, fileText, presetText] = run.split(':');
  const hosts = Number(hostsText);
  const fileSizeBytes = parseBytes(fileText ?? '1GiB');
  const settings = (presetText ?? 'defaults') as Preset;
  if (!Number.isInteger(hosts) || hosts < 1 || (settings !== 'defaults' && settings !== 'tuned')) {
    throw new Error(`bad run "${run}": expected hosts:fileSize[:defaults|tuned] like 1000:1GiB or 10000:1GiB:tuned`);
  }
  return { hosts, fileSizeBytes, settings };
}

/** Run one `hosts:fileSize[:preset]` in a child process; null (and exit code 1) when it failed. */
function runOne(run: string, label = ''): Measurement | null {
  const { hosts, fileSizeBytes, settings } = parseRun(run);
  process.stderr.write(`bench:sim: ${label}${hosts} hosts x ${formatBytes(fileSizeBytes)}, ${settings} ... `);
  const child = spawnSync(process.execPath, ['--max-old-space-size=7600', SIM_SEMI_SPACE_FLAG, '--import', 'tsx',
    fileURLToPath(import.meta.url), '--child', String(hosts), String(fileSizeBytes), settings], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (child.status !== 0) {
    process.stderr.write('failed\n');
    console.error(child.stderr);
    process.exitCode = 1;
    return null;
  }
  const m = JSON.parse(child.stdout.trim().split('\n').pop()!) as Measurement;
  process.stderr.write(`${(m.wallMs / 1000).toFixed(1)} s wall, ${(m.cpuMs / 1000).toFixed(1)} s CPU\n`);
  return m;
}

function parent(runs: string[], withReference: boolean): void {
  const references: Measurement[] = [];
  const reference = (when: string) => {
    const m = withReference ? runOne(REFERENCE, `reference ${when}: `) : null;
    if (m) references.push(m);
  };
  reference('before');
  const rows: Measurement[] = [];
  for (const run of runs) {
    const m = runOne(run);
    if (m) rows.push(m);
  }
  reference('after');
  const referenceRate = references.length > 0 ? references.reduce((sum, m) => sum + m.eventsPerCpuSec, 0) / references.length : null;
  for (const m of rows) {
    m.referenceEventsPerCpuSec = referenceRate;
    m.vsReference = referenceRate === null ? null : m.eventsPerCpuSec / referenceRate;
  }
  const header = ['hosts', 'file', 'settings', 'events', 'events/s', 'events/CPU s', 'vs ref', 'wall s', 'cpu s', 'target', 'peak RSS', 'peak heap', 'efficiency', 'done', 'trace'];
  const table = rows.map((m) => [
    String(m.hosts), formatBytes(m.fileSizeBytes), m.settings, String(m.events), Math.round(m.eventsPerSec).toString(),
    Math.round(m.eventsPerCpuSec).toString(), m.vsReference === null ? '-' : m.vsReference.toFixed(2), (m.wallMs / 1000).toFixed(2), (m.cpuMs / 1000).toFixed(2), target(m),
    formatBytes(m.peakRssBytes), formatBytes(m.peakHeapBytes), m.efficiency.toFixed(3), `${m.completedHosts}/${m.hosts}`, m.traceHash,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i])).join('  ');
  console.log([line(header), ...table.map(line)].join('\n'));
  if (referenceRate !== null) {
    const rates = references.map((m) => `${Math.round(m.eventsPerCpuSec / 1000)} k`);
    console.log(`reference (${REFERENCE}, its state in the caches): ${rates[0]} events per CPU s${rates.length > 1 ? ` before the runs, ${rates[1]} after` : ''};`
      + ' "vs ref" is each run\'s events per CPU s over their mean (below 1: its events cost more, each reaching state spread over more memory;'
      + ' telling only for runs of many seconds, a run of a second or two being mostly the JIT warming up)');
  }
  console.log(eventsPerPiece(rows));
  mkdirSync('out/bench', { recursive: true });
  writeFileSync('out/bench/sim-scale.csv', stringify(rows.map(({ eventsByKind, ...m }) => ({ ...m, eventsByKind: JSON.stringify(eventsByKind) })), { header: true }));
  console.error('bench:sim: wrote out/bench/sim-scale.csv');
}

/**
 * Where each run's events go, per piece a host fetched (hosts x pieces): a dragonfly piece takes
 * a pull or report to the supernode, its answer, the request to the source's uploader, the
 * flow's first byte and its last — about five events whatever the code costs per event, so the
 * event count of a run is set by hosts x pieces, and its time by that and the cost per event.
 */
function eventsPerPiece(rows: Measurement[]): string {
  const lines = ['events per host-piece, by kind (stale-flow-done: completions of flows since rescheduled or cancelled, popped and dropped, not counted in events):'];
  for (const m of rows) {
    const hostPieces = m.hosts * m.pieceCount;
    const kinds = Object.entries(m.eventsByKind).sort((a, b) => b[1] - a[1]);
    const fired = kinds.filter(([kind]) => kind !== 'stale-flow-done').reduce((sum, [, n]) => sum + n, 0);
    lines.push(`  ${m.hosts} hosts, ${m.settings}, ${m.pieceCount} pieces: ${(fired / hostPieces).toFixed(2)} per piece = `
      + kinds.map(([kind, n]) => `${kind} ${(n / hostPieces).toFixed(2)}`).join(', '));
  }
  return lines.join('\n');
}

const args = process.argv.slice(2);
if (args[0] === '--child') await child(Number(args[1]), Number(args[2]), args[3] as Preset);
else {
  const withReference = !args.includes('--no-reference');
  const runs = args.filter((arg) => arg !== '--no-reference');
  try {
    for (const run of runs) parseRun(run);
  } catch (err) {
    console.error(`bench:sim: ${(err as Error).message} (options: --no-reference)`);
    process.exit(2);
  }
  parent(runs.length > 0 ? runs : ['1000:1GiB', '10000:1GiB', '10000:1GiB:tuned', '100000:1GiB'], withReference);
}
