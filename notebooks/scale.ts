/**
 * Study: where the time goes as the swarm grows, and which settings take it back.
 *
 * 1. Sweep: `dragonfly` on the default scenario (1 GiB, 1 Gbit/s hosts and origin) at
 *    SCALE_SWEEP_HOSTS hosts (2,000 by default) over piece size and download/upload slots, on
 *    worker threads; the most efficient point is "tuned".
 * 2. Scale: seed defaults and tuned at every size in SCALE_HOSTS (200 to 10,000 by default), one
 *    run each, with the gap meter (sim/gap.ts): the last host's finish beyond T_min split into
 *    origin-bound time, idle download (no piece arriving: pull round trips, waits, no free
 *    source), shared download (pieces arriving below the link rate) and the same after the CDN
 *    held the whole file (the tail of the last pieces); the hosts', supernode's and origin's
 *    unused upload; events (and per host-piece: hosts x pieces sets a run's cost), events/s, CPU and wall time of each run.
 *
 * Writes out/notebooks/scale/report.md, sweep.csv, scale.csv and charts. Same seed everywhere, so
 * every number reruns; wall times depend on what else the machine runs (CPU time is beside them).
 *   npm run notebook -- scale
 *   SCALE_HOSTS=200,1000 SCALE_SWEEP_HOSTS=500 npm run notebook -- scale     (a quick pass)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { planPieces } from '../core/pieces.ts';
import { formatBytes } from '../core/units.ts';
import { lineChart, stackedBarChart } from '../sim/charts.ts';
import { GapMeter, type GapReport } from '../sim/gap.ts';
import { flagOf } from '../sim/overrides.ts';
import { loadScenario, type Scenario } from '../sim/scenario.ts';
import { runStrategy } from '../sim/strategies/index.ts';
import { gridPoints, runSweep } from '../sim/sweep.ts';
import { buildWorld } from '../sim/world.ts';

const HOSTS = (process.env.SCALE_HOSTS ?? '200,500,1000,2000,5000,10000').split(',').map(Number);
const SWEEP_HOSTS = Number(process.env.SCALE_SWEEP_HOSTS ?? 2000);
/** Download and upload slots move together: unequal counts leave one end of every flow idle. */
const GRID = (process.env.SCALE_GRID ?? 'pieceSizeBytes=1MiB,2MiB,4MiB piecesPerPull=4,6,8 peerDownLimit=4,6,8 peerUpLimit=4,6,8').split(' ');
/** DESIGN §6 / issue 10: tuned efficiency at 2,000 and 10,000 hosts; wall time at 10,000. */
const TARGETS = { efficiency2000: 0.92, efficiency10000: 0.9, defaultsWallS: 30, tunedWallS: 90 };

interface ScaleRow {
  settings: 'seed defaults' | 'tuned';
  hosts: number;
  efficiency: number;
  lowerBoundS: number;
  lastS: number;
  gap: GapReport;
  events: number;
  /** Pieces each host fetched: events / (hosts x pieces) is what a piece costs the simulator (bench:sim prints it by kind). */
  pieceCount: number;
  cpuS: number;
  wallS: number;
}

/** What a piece a host fetched cost the simulator, in events. */
function eventsPerHostPiece(r: ScaleRow): number {
  return r.events / (r.hosts * r.pieceCount);
}

function sameSlots(settings: Record<string, string>): boolean {
  return settings.piecesPerPull === settings.peerDownLimit && settings.peerDownLimit === settings.peerUpLimit;
}

function flags(settings: Record<string, string>): string {
  return Object.entries(settings).map(([k, v]) => `--${flagOf(k)} ${v}`).join(' ');
}

function runOnce(scenario: Scenario, label: ScaleRow['settings']): ScaleRow {
  const world = buildWorld(scenario);
  const meter = new GapMeter(world.lowerBoundMs / 2000);
  const cpuBefore = process.cpuUsage();
  const result = runStrategy('dragonfly', world, meter.hooks());
  const cpu = process.cpuUsage(cpuBefore);
  if (result.completedHosts !== scenario.hostCount) throw new Error(`${label} at ${scenario.hostCount} hosts: not every host finished`);
  const row: ScaleRow = {
    settings: label, hosts: scenario.hostCount, efficiency: result.efficiency, lowerBoundS: result.lowerBoundMs / 1000,
    lastS: result.completionMs.max / 1000, gap: meter.report(), events: result.events,
    pieceCount: planPieces(scenario.fileSizeBytes, scenario.core.pieceSizeBytes ?? 0).pieceCount, cpuS: (cpu.user + cpu.system) / 1e6, wallS: result.wallMs / 1000,
  };
  console.error(`scale: ${label}, ${row.hosts} hosts: efficiency ${row.efficiency.toFixed(3)}, ${row.events} events, ${row.wallS.toFixed(1)} s wall, ${row.cpuS.toFixed(1)} s CPU`);
  return row;
}

const PARTS = ['origin-bound', 'idle download', 'shared download', 'tail: idle', 'tail: shared', 'sampling error'];
function parts(g: GapReport): number[] {
  const l = g.last;
  return [l.originBoundMs, l.idleMs, l.sharedMs, l.tailIdleMs, l.tailSharedMs, l.unexplainedMs].map((ms) => ms / 1000);
}

export async function run(outDir: string): Promise<void> {
  mkdirSync(outDir, { recursive: true });
  const base = loadScenario('default');

  // 1. Sweep at one size; keep the grid to equal slot counts.
  const sweepScenario = { ...base, hostCount: SWEEP_HOSTS };
  const allPoints = gridPoints(sweepScenario, GRID).filter((p) => sameSlots(p.settings));
  console.error(`scale: sweeping ${allPoints.length} settings at ${SWEEP_HOSTS} hosts`);
  const swept = await runSweep({
    scenarioName: 'default', scenario: sweepScenario, strategy: 'dragonfly', grid: GRID, outDir: join(outDir, 'sweep'),
    log: (line) => console.error(line), filter: sameSlots,
  });
  const ranked = [...swept].sort((a, b) => b.efficiency - a.efficiency);
  const best = ranked[0].settings;
  const tuned = gridPoints(base, GRID).find((p) => JSON.stringify(p.settings) === JSON.stringify(best))!.scenario.core;

  // 2. Seed defaults and tuned at every size.
  const rows: ScaleRow[] = [];
  for (const hosts of HOSTS) {
    rows.push(runOnce({ ...base, hostCount: hosts }, 'seed defaults'));
    rows.push(runOnce({ ...base, hostCount: hosts, core: { ...base.core, ...tuned } }, 'tuned'));
  }
  const of = (settings: ScaleRow['settings'], hosts: number) => rows.find((r) => r.settings === settings && r.hosts === hosts);

  writeFileSync(join(outDir, 'scale.csv'), stringify(rows.map((r) => ({
    settings: r.settings, hosts: r.hosts, efficiency: r.efficiency.toFixed(4), lowerBoundS: r.lowerBoundS.toFixed(3), lastS: r.lastS.toFixed(3),
    cdnCompleteS: (r.gap.cdnCompleteMs / 1000).toFixed(3),
    ...Object.fromEntries(PARTS.map((p, i) => [`last ${p} s`, parts(r.gap)[i].toFixed(3)])),
    meanIdleS: (r.gap.mean.idleMs / 1000).toFixed(3), meanSharedS: (r.gap.mean.sharedMs / 1000).toFixed(3),
    hostUploadIdle: r.gap.hostUploadIdleFraction.toFixed(3), supernodeUploadIdle: r.gap.supernodeUploadIdleFraction.toFixed(3),
    originUploadIdle: r.gap.originUploadIdleFraction.toFixed(3), events: r.events, pieces: r.pieceCount,
    eventsPerHostPiece: eventsPerHostPiece(r).toFixed(2), eventsPerCpuS: Math.round(r.events / r.cpuS),
    cpuS: r.cpuS.toFixed(1), wallS: r.wallS.toFixed(1),
  })), { header: true }));

  const series = (settings: ScaleRow['settings'], y: (r: ScaleRow) => number) =>
    ({ name: settings, points: HOSTS.map((h) => of(settings, h)!).map((r) => ({ x: r.hosts, y: y(r) })) });
  writeFileSync(join(outDir, 'efficiency.svg'), lineChart('dragonfly on default (1 GiB): efficiency T_min / T vs hosts', 'hosts', 'efficiency',
    [series('seed defaults', (r) => r.efficiency), series('tuned', (r) => r.efficiency)], true));
  writeFileSync(join(outDir, 'speed.svg'), lineChart('simulator speed: events per CPU second', 'hosts', 'events / CPU s',
    [series('seed defaults', (r) => r.events / r.cpuS), series('tuned', (r) => r.events / r.cpuS)], true));
  for (const settings of ['seed defaults', 'tuned'] as const) {
    writeFileSync(join(outDir, `gap-${settings === 'tuned' ? 'tuned' : 'defaults'}.svg`), stackedBarChart(
      `${settings}: the last host's finish beyond T_min, by cause`, 'hosts', 'seconds', PARTS,
      HOSTS.map((h) => ({ name: String(h), values: parts(of(settings, h)!.gap) }))));
  }

  const line = (r: ScaleRow) => {
    const p = parts(r.gap);
    return `| ${r.settings} | ${r.hosts} | ${r.efficiency.toFixed(3)} | ${r.lastS.toFixed(2)} | ${p.map((v) => v.toFixed(3)).join(' | ')} | `
      + `${(100 * r.gap.hostUploadIdleFraction).toFixed(1)} % | ${r.events} | ${eventsPerHostPiece(r).toFixed(2)} | ${Math.round(r.events / r.cpuS)} | ${r.cpuS.toFixed(1)} | ${r.wallS.toFixed(1)} |`;
  };
  const check = (value: number | undefined, ok: (v: number) => boolean, text: (v: number) => string) =>
    (value === undefined ? 'not run' : `${text(value)}: ${ok(value) ? 'met' : '**missed**'}`);
  const big = Math.max(...HOSTS);
  const lines = ['# Scale: where the time goes from 200 to 10,000 hosts', '',
    'Generated by `npm run notebook -- scale` (notebooks/scale.ts). Strategy `dragonfly` on scenario `default` ' +
    `(${formatBytes(base.fileSizeBytes)}, 1 Gbit/s hosts and origin, seed ${base.seed}); T_min = F/d = 8.59 s at every size. ` +
    'The gap columns split the last host\'s finish beyond T_min (sim/gap.ts); "tail" is after the CDN held the whole file.', '',
    `## Sweep at ${SWEEP_HOSTS} hosts`, '',
    `Grid \`${GRID.join(' ')}\`, equal download and upload slots. Best: **${JSON.stringify(best)}**, efficiency ${ranked[0].efficiency.toFixed(3)}.`, '',
    '| ' + Object.keys(best).join(' | ') + ' | efficiency | last host s |', '|' + ' --- |'.repeat(Object.keys(best).length + 2),
    ...ranked.map((r) => `| ${Object.values(r.settings).join(' | ')} | ${r.efficiency.toFixed(3)} | ${(r.maxMs / 1000).toFixed(2)} |`), '',
    '## Seed defaults and tuned, 200 to 10,000 hosts', '',
    `Tuned = \`${flags(best)}\`.`, '',
    '![efficiency](efficiency.svg)', '', '![gap, seed defaults](gap-defaults.svg)', '', '![gap, tuned](gap-tuned.svg)', '', '![speed](speed.svg)', '',
    `| settings | hosts | efficiency | last s | ${PARTS.map((p) => `${p} s`).join(' | ')} | hosts' upload idle | events | events / host-piece | events / CPU s | CPU s | wall s |`,
    '|' + ' --- |'.repeat(PARTS.length + 10),
    ...rows.map(line), '',
    '## Targets', '',
    `- tuned at 2,000 hosts: ${check(of('tuned', 2000)?.efficiency, (v) => v >= TARGETS.efficiency2000, (v) => `efficiency ${v.toFixed(3)} (>= ${TARGETS.efficiency2000})`)}`,
    `- tuned at 10,000 hosts: ${check(of('tuned', 10000)?.efficiency, (v) => v >= TARGETS.efficiency10000, (v) => `efficiency ${v.toFixed(3)} (>= ${TARGETS.efficiency10000})`)}`,
    `- seed defaults at 10,000 hosts: ${check(of('seed defaults', 10000)?.wallS, (v) => v <= TARGETS.defaultsWallS, (v) => `${v.toFixed(1)} s wall, ${of('seed defaults', 10000)!.cpuS.toFixed(1)} s CPU (<= ${TARGETS.defaultsWallS} s wall)`)}`,
    `- tuned at 10,000 hosts: ${check(of('tuned', 10000)?.wallS, (v) => v <= TARGETS.tunedWallS, (v) => `${v.toFixed(1)} s wall, ${of('tuned', 10000)!.cpuS.toFixed(1)} s CPU (<= ${TARGETS.tunedWallS} s wall)`)}`,
    '', `Rerun one point: \`npx dfsim run default --strategy dragonfly --hosts ${big} ${flags(best)}\``, ''];
  writeFileSync(join(outDir, 'report.md'), `${lines.join('\n')}\n`);
  console.error(`scale: wrote ${join(outDir, 'report.md')}`);
}
