/**
 * The simulator's side of a calibration and the comparison with the live run: the same world
 * (scenario + seed) through `runStrategy('dragonfly', ...)`, then per-host completion times, their
 * p50/p95/max and the error of live against simulated in %, and the bytes both ways.
 *
 * Completion is counted from each host's own start in both: the simulator's arrival-to-done, and
 * the live dfget's spawn-to-exit (so the live figure includes process start-up, which the
 * simulator does not model: `startupMs` per host says how much).
 */
import { percentiles, type Percentiles, type StrategyResult } from '../../sim/result.ts';
import type { CpuSummary } from './cpu-sampler.ts';
import type { LinkCheck } from './link-check.ts';
import type { LiveResult } from './live-run.ts';
import type { DelayHubStats, QueueMode } from './netns.ts';
import type { PieceTimeRow } from './piece-times.ts';
import type { TestbedPlan } from './plan.ts';
import type { SourceUseRow } from './source-use.ts';
import type { RoleTcpCounters } from './tcp-counters.ts';
import { downlinkUse, type DownlinkUse } from './downlink-use.ts';
import type { UploadSplit } from './upload-split.ts';
import { summarizeTimeline, type RunTimeline, type TimelineSummary } from './timeline.ts';
import type { VariantResult } from './variants.ts';

export interface Figures {
  completionMs: Percentiles;
  originEgressBytes: number;
  supernodeEgressBytes: number;
  fromPeersBytes: number;
}

export interface HostRow {
  host: number;
  idc: number;
  upBytesPerSec: number;
  downBytesPerSec: number;
  arrivalMs: number;
  simMs: number | null;
  liveMs: number | null;
  errorPercent: number | null;
  /** Live start-to-exit minus dfget's own elapsed time: node + tsx start-up (cold) and exit. */
  startupMs: number | null;
  simUploadedBytes: number;
  liveFromPeersBytes: number;
  liveFromSupernodeBytes: number;
  digestOk: boolean;
}

export interface Calibration {
  scenario: string;
  seed: string;
  shape: 'netns' | 'app';
  start: 'warm' | 'cold';
  sysctls: string[];
  /** The testbed's --gso-max-segs (0 = the kernel's default). */
  gsoMaxSegs: number;
  /** The testbed's --queues. */
  queues: QueueMode;
  /** Processes kept spinning during the live run (--busy-cores), 0 = none. */
  busyCores: number;
  hosts: number;
  fileSizeBytes: number;
  lowerBoundMs: number;
  sim: Figures;
  live: Figures;
  errorPercent: { p50: number; p95: number; max: number; originEgress: number; supernodeEgress: number; fromPeers: number };
  liveChecks: { hostsDone: number; digestsOk: number; originCopies: number };
  machine: CpuSummary & {
    delayMode: string; delayHub: DelayHubStats | null; processCpuSeconds: Record<string, number>;
    /** Seconds the processes' main threads waited for a CPU during the run, by kind (live-run.ts). */
    processWaitSeconds: Record<string, number>;
  };
  links: LinkCheck | null;
  /** Where the time went, both ways (timeline.ts). */
  timeline: { sim: TimelineSummary; live: TimelineSummary };
  /** The simulator re-run with one model input changed at a time, against the live run (variants.ts). */
  variants: VariantResult[];
  /** Live piece times by connection (new, idle, warm) and path (inside an IDC or across): piece-times.ts. */
  pieceTimes: PieceTimeRow[];
  /** How much of their links the live sources used (source-use.ts; none in the app shape). */
  sourceUse: SourceUseRow[];
  /** Where a peer fetch's time goes, from both ends' logs (upload-split.ts); null without the uploaders' debug lines. */
  uploadSplit: UploadSplit | null;
  /** What TCP went through on the testbed's links (netns shape; null in the app shape): tcp-counters.ts. */
  tcp: RoleTcpCounters[] | null;
  /** How busy the hosts' downlinks were from start to done, both ways (downlink-use.ts; netns shape only). */
  downlinkUse: DownlinkUse | null;
  /** The direct-pull baseline (--direct): every host from the origin with curl, on the same links; null without it. */
  direct: DirectFigures | null;
  perHost: HostRow[];
}

export interface DirectFigures {
  completionMs: Percentiles;
  originEgressBytes: number;
  digestsOk: number;
  /** The direct pulls' last host over the swarm's: how many times faster small-dragonfly finished. */
  speedup: number;
  /** The swarm's last host over the fluid bound T_min. */
  liveOverLowerBound: number;
  errors: string[];
}


export interface RunSetup {
  shape: 'netns' | 'app';
  start: 'warm' | 'cold';
  /** How the cross-IDC latency was added: netem, delay-hub, or none. */
  delayMode: string;
  /** The delay hub's counters at the end of the run (null without one). */
  delayHub: DelayHubStats | null;
  /** The netns testbed's links as measured before the run (null in the app shape). */
  links: LinkCheck | null;
  /** sysctl settings applied in every node's namespace. */
  sysctls: string[];
  gsoMaxSegs: number;
  queues: QueueMode;
  /** Processes kept spinning during the live run (--busy-cores), 0 = none. */
  busyCores: number;
}

export interface Timelines { sim: RunTimeline; live: RunTimeline }

export function compare(plan: TestbedPlan, sim: StrategyResult, live: LiveResult, setup: RunSetup, timelines: Timelines): Calibration {
  const perHost: HostRow[] = plan.hosts.map((node, i) => {
    const s = sim.hostResults[i];
    const l = live.hosts[i];
    const simMs = s.completionMs === null ? null : s.completionMs - s.arrivalMs;
    return {
      host: i, idc: node.idc, upBytesPerSec: node.upBytesPerSec, downBytesPerSec: node.downBytesPerSec, arrivalMs: node.arrivalMs,
      simMs, liveMs: l.completionMs, errorPercent: simMs !== null && l.completionMs !== null ? errorPercent(l.completionMs, simMs) : null,
      startupMs: l.completionMs !== null && l.dfgetElapsedMs !== null ? l.completionMs - l.dfgetElapsedMs : null,
      simUploadedBytes: s.sentBytes, liveFromPeersBytes: l.fromPeersBytes, liveFromSupernodeBytes: l.fromSupernodeBytes, digestOk: l.digestOk,
    };
  });
  const simFigures: Figures = {
    completionMs: percentiles(perHost.flatMap((h) => (h.simMs === null ? [] : [h.simMs]))),
    originEgressBytes: sim.originEgressBytes,
    supernodeEgressBytes: sim.supernodeEgressBytes,
    fromPeersBytes: sim.hostResults.reduce((sum, h) => sum + h.sentBytes, 0),
  };
  const liveFigures: Figures = {
    completionMs: percentiles(perHost.flatMap((h) => (h.liveMs === null ? [] : [h.liveMs]))),
    originEgressBytes: live.origin.bytesSent,
    supernodeEgressBytes: live.supernode.servedBytes,
    fromPeersBytes: live.hosts.reduce((sum, h) => sum + h.fromPeersBytes, 0),
  };
  return {
    scenario: plan.scenario.name, seed: plan.scenario.seed, shape: setup.shape, start: setup.start, sysctls: setup.sysctls, gsoMaxSegs: setup.gsoMaxSegs, queues: setup.queues, busyCores: setup.busyCores, hosts: plan.hosts.length, fileSizeBytes: plan.scenario.fileSizeBytes,
    lowerBoundMs: plan.world.lowerBoundMs, sim: simFigures, live: liveFigures,
    errorPercent: {
      p50: errorPercent(liveFigures.completionMs.p50, simFigures.completionMs.p50),
      p95: errorPercent(liveFigures.completionMs.p95, simFigures.completionMs.p95),
      max: errorPercent(liveFigures.completionMs.max, simFigures.completionMs.max),
      originEgress: errorPercent(liveFigures.originEgressBytes, simFigures.originEgressBytes),
      supernodeEgress: errorPercent(liveFigures.supernodeEgressBytes, simFigures.supernodeEgressBytes),
      fromPeers: errorPercent(liveFigures.fromPeersBytes, simFigures.fromPeersBytes),
    },
    liveChecks: {
      hostsDone: live.hosts.filter((h) => h.completionMs !== null).length,
      digestsOk: live.hosts.filter((h) => h.digestOk).length,
      originCopies: live.origin.bytesSent / plan.scenario.fileSizeBytes,
    },
    machine: { ...live.cpu, delayMode: setup.delayMode, delayHub: setup.delayHub, processCpuSeconds: live.processCpuSeconds, processWaitSeconds: live.processWaitSeconds },
    links: setup.links,
    timeline: {
      sim: { ...summarizeTimeline(timelines.sim, plan.scenario.fileSizeBytes), pieceOverheadMs: plan.scenario.pieceOverheadMs },
      live: summarizeTimeline(timelines.live, plan.scenario.fileSizeBytes),
    },
    variants: [],
    pieceTimes: [],
    sourceUse: [],
    uploadSplit: null,
    tcp: live.tcp,
    downlinkUse: downlinkUse(perHost, plan.scenario.fileSizeBytes, plan.scenario.goodput, live.tcp?.find((r) => r.role === 'hosts')?.linkBytesDown ?? null),
    direct: directFigures(live, liveFigures.completionMs.max, plan.world.lowerBoundMs),
    perHost,
  };
}

function directFigures(live: LiveResult, swarmMaxMs: number, lowerBoundMs: number): DirectFigures | null {
  if (!live.direct) return null;
  const { completionMs, originEgressBytes, digestsOk, errors } = live.direct;
  return { completionMs, originEgressBytes, digestsOk, errors, speedup: completionMs.max / swarmMaxMs, liveOverLowerBound: swarmMaxMs / lowerBoundMs };
}

/** (live - sim) / sim in %; 0 when both are 0. */
export function errorPercent(live: number, sim: number): number {
  if (sim === 0) return live === 0 ? 0 : Infinity;
  return (100 * (live - sim)) / sim;
}
