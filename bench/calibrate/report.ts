/**
 * The calibration report: report.md (what was run, the comparison table, the machine's load, where
 * the time went), completion-cdf.svg (per-host completion times, live against simulated),
 * timeline.svg and timeline.csv (each host's pieces and the origin's egress over time, both ways;
 * host times since the host's start, origin times since t = 0),
 * hosts.csv (one row per host) and calibration.json (what `--json` prints).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { formatBytes, formatRate } from '../../core/units.ts';
import { tcpCountersTable } from './tcp-counters.ts';
import type { Calibration, Timelines } from './compare.ts';
import { meanProgress, originProgress, type TimelineSummary } from './timeline.ts';

const seconds = (ms: number): string => (ms / 1000).toFixed(2);
const signed = (percent: number): string => `${percent >= 0 ? '+' : ''}${percent.toFixed(1)} %`;

/** The comparison as a Markdown table (also printed on stdout without --json). */
export function comparisonTable(c: Calibration): string {
  const rows = [
    ['p50 completion', `${seconds(c.sim.completionMs.p50)} s`, `${seconds(c.live.completionMs.p50)} s`, signed(c.errorPercent.p50)],
    ['p95 completion', `${seconds(c.sim.completionMs.p95)} s`, `${seconds(c.live.completionMs.p95)} s`, signed(c.errorPercent.p95)],
    ['max completion', `${seconds(c.sim.completionMs.max)} s`, `${seconds(c.live.completionMs.max)} s`, signed(c.errorPercent.max)],
    ['origin egress', copies(c.sim.originEgressBytes, c), copies(c.live.originEgressBytes, c), signed(c.errorPercent.originEgress)],
    ['supernode egress', copies(c.sim.supernodeEgressBytes, c), copies(c.live.supernodeEgressBytes, c), signed(c.errorPercent.supernodeEgress)],
    ['bytes from peers', copies(c.sim.fromPeersBytes, c), copies(c.live.fromPeersBytes, c), signed(c.errorPercent.fromPeers)],
  ];
  const table = ['| figure | simulated | live | live vs sim |', '| --- | ---: | ---: | ---: |', ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
  return c.direct ? `${table}\n\n${directTable(c, c.direct)}` : table;
}

/** The swarm against the fluid bound and against every host pulling from the origin (--direct). */
function directTable(c: Calibration, d: NonNullable<Calibration['direct']>): string {
  const rows = [
    ['fluid bound T_min', `${seconds(c.lowerBoundMs)} s`, '', ''],
    ['small-dragonfly (live), last host', `${seconds(c.live.completionMs.max)} s`, `${d.liveOverLowerBound.toFixed(2)} × T_min`, copies(c.live.originEgressBytes, c)],
    ['direct pulls (curl), last host', `${seconds(d.completionMs.max)} s`, `${(d.completionMs.max / c.lowerBoundMs).toFixed(2)} × T_min`, copies(d.originEgressBytes, c)],
    ['speed-up of small-dragonfly', `${d.speedup.toFixed(1)} ×`, '', ''],
  ];
  const failed = d.errors.length > 0 ? `\n\nDirect pulls that failed: ${d.errors.join('; ')}` : '';
  return ['| run | time | vs bound | origin egress |', '| --- | ---: | ---: | ---: |', ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n') + failed;
}

function copies(bytes: number, c: Calibration): string {
  return `${formatBytes(bytes)} (${(bytes / c.fileSizeBytes).toFixed(3)} ×)`;
}

function machineLine(c: Calibration): string {
  const m = c.machine;
  const ours = Object.values(m.processCpuSeconds).reduce((a, b) => a + b, 0);
  const byRole = Object.entries(m.processCpuSeconds).map(([role, s]) => `${role} ${s.toFixed(1)} s`).join(', ');
  const runSeconds = c.live.completionMs.max / 1000 || 1;
  return `Machine CPU (${m.cores} cores, all processes, sampled every ${m.intervalMs} ms): peak ${m.peakPercent.toFixed(0)} %, `
    + `p95 ${m.p95Percent.toFixed(0)} %, mean ${m.meanPercent.toFixed(0)} %; load average ${m.loadBefore.toFixed(2)} at t = 0, `
    + `${m.loadAfter.toFixed(2)} at the end. The testbed's processes alone: peak ${m.testbedPeakPercent.toFixed(0)} %, `
    + `mean ${m.testbedMeanPercent.toFixed(0)} % of the machine; ${ours.toFixed(1)} CPU-seconds during the run `
    + `(${byRole}), ${(ours / runSeconds).toFixed(2)} cores on average. ${waitSentence(c)}Cross-IDC delay by ${m.delayMode}.`;
}

/** How long the processes' event loops sat runnable without a CPU: the testbed's CPU contention, per process. */
function waitSentence(c: Calibration): string {
  const perHost = new Set(['dfget', 'uploader']);
  const waits = Object.entries(c.machine.processWaitSeconds ?? {}).filter(([role]) => role !== 'probe');
  // None, or all zero: this kernel keeps no schedstat (CONFIG_SCHED_INFO off), so there is nothing to say.
  if (waits.every(([, s]) => s === 0)) return '';
  const parts = waits.map(([role, s]) => `${role} ${s.toFixed(1)} s${perHost.has(role) ? ` (${(1000 * s / c.hosts).toFixed(0)} ms per host)` : ''}`);
  return `Main threads runnable but waiting for a CPU during the run (/proc/<pid>/schedstat): ${parts.join(', ')}. `;
}

function linksTable(c: Calibration): string {
  if (!c.links) return 'Links: app shape, no namespaces (nothing to measure).';
  return [
    '| testbed link, measured before the run | nominal | measured |', '| --- | ---: | ---: |',
    ...c.links.goodput.map((g) => `| ${g.from} → ${g.to}: one TCP flow's goodput | ${formatRate(g.nominalBytesPerSec)} | `
      + `${formatRate(g.goodputBytesPerSec)} (${((100 * g.goodputBytesPerSec) / g.nominalBytesPerSec).toFixed(1)} %) |`),
    ...c.links.rtt.map((r) => `| ${r.from} ↔ ${r.to}: round trip (median of 11) | ${r.expectedMs} ms | ${r.medianMs.toFixed(2)} ms |`),
    ...(c.machine.delayHub ? [delayHubRow(c.machine.delayHub)] : []),
  ].join('\n');
}

function delayHubRow(hub: NonNullable<Calibration['machine']['delayHub']>): string {
  const mean = hub.frames === 0 ? 0 : hub.lateMsTotal / hub.frames;
  return `| cross-IDC delay line during the run: ${hub.frames} frames (${formatBytes(hub.bytes)}), ${hub.droppedFrames} dropped | on time | `
    + `late by ${mean.toFixed(2)} ms on average, ${hub.lateMsMax.toFixed(1)} ms at most; `
    + `${((100 * hub.framesLateOver5Ms) / Math.max(1, hub.frames)).toFixed(1)} % over 5 ms |`;
}

function variantsTable(c: Calibration): string {
  return [
    '| simulator variant (same world) | what changes | p50 s | p95 s | max s | live vs variant p50 / p95 / max |',
    '| --- | --- | ---: | ---: | ---: | ---: |',
    ...c.variants.map((v) => `| ${v.name} | ${v.description} | ${seconds(v.completionMs.p50)} | ${seconds(v.completionMs.p95)} | `
      + `${seconds(v.completionMs.max)} | ${signed(v.errorPercent.p50)} / ${signed(v.errorPercent.p95)} / ${signed(v.errorPercent.max)} |`),
  ].join('\n');
}

function timelineTable(c: Calibration): string {
  const row = (name: string, f: (t: TimelineSummary) => string): string => `| ${name} | ${f(c.timeline.sim)} | ${f(c.timeline.live)} |`;
  return [
    '| where the time goes | simulated | live |', '| --- | ---: | ---: |',
    row('origin done sending the file (since t = 0)', (t) => `${seconds(t.originDoneMs)} s`),
    row('first piece in (mean over hosts, since its start)', (t) => `${seconds(t.firstPieceMs)} s`),
    row('rate after the first piece (mean over hosts)', (t) => formatRate(t.steadyBytesPerSec)),
    row('longest wait between two pieces (mean over hosts)', (t) => `${seconds(t.longestGapMs)} s`),
    row('pieces from the supernode / from peers', (t) => `${t.piecesFromSupernode} / ${t.piecesFromPeers}`),
    `| per-piece overhead: a piece fetched alone, beyond its bytes at the link's payload rate (median) | ${c.timeline.sim.pieceOverheadMs.toFixed(0)} ms (hosts.pieceOverheadMs) | `
      + `${Number.isNaN(c.timeline.live.pieceOverheadMs) ? '-' : `${c.timeline.live.pieceOverheadMs.toFixed(0)} ms`} |`,
    ...(c.downlinkUse ? [`| host downlinks busy, each from its host's start to done (wire bytes over the link's rate; live: all that tc sent, the file's bytes alone in brackets) | `
      + `${c.downlinkUse.simPercent.toFixed(0)} % | ${c.downlinkUse.livePercent.toFixed(0)} % (${c.downlinkUse.liveFilePercent.toFixed(0)} %) |`] : []),
  ].join('\n');
}

function sourceUseTable(c: Calibration): string {
  return [
    '| live sources (from the dfget logs) | count | a fetch from it outstanding, share of the run (mean) | piece bytes delivered (mean) | link payload rate |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...c.sourceUse.map((r) => `| ${r.role} | ${r.sources} | ${r.busyPercent.toFixed(0)} % | ${formatRate(r.deliveredBytesPerSec)} | ${formatRate(r.linkBytesPerSec)} |`),
  ].join('\n');
}

function uploadSplitTable(c: Calibration): string {
  const s = c.uploadSplit!;
  const ms = (v: number): string => `${v.toFixed(0)} ms (${(100 * v / s.totalMs).toFixed(0)} %)`;
  return [
    `| a live peer fetch, split (${s.fetches} fetches joined to their uploader's debug line) | mean |`,
    '| --- | ---: |',
    `| request sent → the uploader starts serving | ${ms(s.beforeServingMs)} |`,
    `| serving: reading the piece / waiting for the TX bucket / handing it to the kernel | ${s.readMs.toFixed(0)} / ${s.tokensMs.toFixed(0)} / ${s.toKernelMs.toFixed(0)} ms (${(100 * (s.readMs + s.tokensMs + s.toKernelMs) / s.totalMs).toFixed(0)} %) |`,
    `| handed to the kernel → verified by the requester (the links, then the requester) | ${ms(s.afterHandOffMs)} |`,
    `| whole fetch | ${s.totalMs.toFixed(0)} ms |`,
    `| uploaders' share of the run with a served piece's bytes in flight (mean) | ${s.bytesInFlightPercent.toFixed(0)} % |`,
  ].join('\n');
}

function pieceTimesTable(c: Calibration): string {
  if (c.pieceTimes.length === 0) return '';
  return [
    '| live pieces by path and connection (new: first from that source; warm: another running or one ended under the idle restart ago) | pieces | mean fetch time | what the scenario\'s tcp: model adds to a lone piece |',
    '| --- | ---: | ---: | ---: |',
    ...c.pieceTimes.map((r) => `| ${r.path}, ${r.connection} connection | ${r.pieces} | ${seconds(r.meanMs)} s | ${r.modelledExtraMs.toFixed(0)} ms |`),
  ].join('\n');
}

export function markdownReport(c: Calibration, command: string): string {
  const hostLines = c.perHost.map((h) => `| h${h.host} | ${h.idc} | ${formatRate(h.upBytesPerSec)} | ${formatRate(h.downBytesPerSec)} | `
    + `${seconds(h.arrivalMs)} | ${h.simMs === null ? '-' : seconds(h.simMs)} | ${h.liveMs === null ? 'failed' : seconds(h.liveMs)} | `
    + `${h.errorPercent === null ? '-' : signed(h.errorPercent)} | ${h.startupMs === null ? '-' : seconds(h.startupMs)} | ${h.digestOk ? 'ok' : 'BAD'} |`);
  const tcp = tcpCountersTable(c.tcp);
  return [
    `# Calibration: ${c.scenario} (${c.shape} shape, ${c.start} start, seed ${c.seed}${c.sysctls.length > 0 ? `, ${c.sysctls.join(' ')}` : ''}${c.gsoMaxSegs > 0 ? `, gso_max_segs ${c.gsoMaxSegs}` : ''}${c.queues !== 'fifo' ? `, ${c.queues} queues` : ''}${c.busyCores > 0 ? `, ${c.busyCores} busy core${c.busyCores === 1 ? '' : 's'}` : ''})`,
    '',
    `${c.hosts} hosts × ${formatBytes(c.fileSizeBytes)}; fluid lower bound T_min = ${seconds(c.lowerBoundMs)} s. `
      + `Live: ${c.liveChecks.hostsDone}/${c.hosts} hosts done, ${c.liveChecks.digestsOk}/${c.hosts} outputs match the origin's SHA-256, `
      + `origin sent ${c.liveChecks.originCopies.toFixed(3)} copies.`,
    '',
    `Command: \`${command}\``,
    '',
    comparisonTable(c),
    '',
    'Completion times count from each host\'s own start: simulated arrival to done; live, from dfget\'s spawn (cold start) '
      + 'or its "go" (warm start: loaded and its uploader running before t = 0) to its exit. The start-up column is that '
      + 'time minus dfget\'s own elapsed time.',
    '',
    machineLine(c),
    '',
    linksTable(c),
    '',
    '![completion CDF](completion-cdf.svg)',
    '',
    timelineTable(c),
    '',
    ...(c.pieceTimes.length > 0 ? [pieceTimesTable(c), ''] : []),
    ...(c.sourceUse.length > 0 ? [sourceUseTable(c), ''] : []),
    ...(c.uploadSplit ? [uploadSplitTable(c), ''] : []),
    ...(tcp ? [tcp, ''] : []),
    variantsTable(c),
    '',
    '![progress and origin egress over time](timeline.svg)',
    '',
    '| host | IDC | up | down | arrival s | sim s | live s | live vs sim | start-up s | output |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    ...hostLines,
    '',
  ].join('\n');
}

/** Write report.md, completion-cdf.svg, hosts.csv and calibration.json; returns the paths. */
export async function writeReport(dir: string, c: Calibration, timelines: Timelines, command: string): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  const write = (name: string, text: string): void => {
    writeFileSync(join(dir, name), text);
    written.push(join(dir, name));
  };
  write('report.md', markdownReport(c, command));
  write('calibration.json', `${JSON.stringify(c, null, 2)}\n`);
  write('hosts.csv', stringify(c.perHost.map((h) => ({
    ...h, simMs: h.simMs?.toFixed(1) ?? '', liveMs: h.liveMs?.toFixed(1) ?? '', errorPercent: h.errorPercent?.toFixed(2) ?? '',
    startupMs: h.startupMs?.toFixed(1) ?? '',
  })), { header: true }));
  // d3-node loads jsdom (about a second): only here, when the chart is drawn.
  const { lineChart } = await import('../../sim/charts.ts');
  const cdf = (name: string, values: (number | null)[]) => {
    const sorted = values.filter((v): v is number => v !== null).sort((a, b) => a - b);
    return { name, points: [{ x: 0, y: 0 }, ...sorted.map((v, i) => ({ x: v / 1000, y: (100 * (i + 1)) / c.hosts }))] };
  };
  write('completion-cdf.svg', lineChart(`Completion CDF: ${c.scenario}, ${c.hosts} hosts, ${c.shape} shape (seed ${c.seed})`,
    'completion time from the host\'s start (s)', 'hosts done (%)',
    [cdf('simulated', c.perHost.map((h) => h.simMs)), cdf(`live (${c.shape})`, c.perHost.map((h) => h.liveMs))]));
  const rows = (side: string, t: Timelines['sim']) => [
    ...t.origin.map(([atMs, bytes]) => ({ side, node: 'origin', atMs: atMs.toFixed(1), bytes, from: 'origin egress so far' })),
    ...t.hosts.flatMap((arrivals, host) => arrivals.map((p) => ({ side, node: `h${host}`, atMs: p.atMs.toFixed(1), bytes: p.bytes, from: p.fromSupernode ? 'supernode' : 'peer' }))),
  ];
  write('timeline.csv', stringify([...rows('sim', timelines.sim), ...rows('live', timelines.live)], { header: true }));
  const F = c.fileSizeBytes;
  write('timeline.svg', lineChart(`Mean share of the file held, and origin egress: ${c.scenario}, ${c.shape} shape`,
    'time (s): since each host\'s start (hosts), since t = 0 (origin)', '% of the file', [
      { name: 'hosts, simulated', points: meanProgress(timelines.sim, F) },
      { name: `hosts, live`, points: meanProgress(timelines.live, F) },
      { name: 'origin, simulated', points: originProgress(timelines.sim, F) },
      { name: 'origin, live', points: originProgress(timelines.live, F) },
    ]));
  return written;
}
