/**
 * What a run reports: per-host completion, origin and supernode egress, percentiles, the
 * lower bound and efficiency (see world.ts for both), and the time series of finished hosts.
 */
import type { CoreConfig } from '../core/config.ts';
import type { MachineFault } from '../core/runtime.ts';
import type { Simulation, TimePoint } from './engine.ts';

/** A core machine's fault (core/runtime.ts) and when, in virtual time, it happened. */
export interface SimFault extends MachineFault { atMs: number }

export interface Percentiles { p50: number; p95: number; max: number }

export interface HostResult {
  host: number;
  arrivalMs: number;
  /** Absolute finish time (ms since the run began); null when the host did not finish. */
  completionMs: number | null;
  upBps: number;
  downBps: number;
  sentBytes: number;
  receivedBytes: number;
  status: 'done' | 'failed' | 'crashed' | 'unfinished';
  reason?: string;
}

export interface StrategyResult {
  strategy: string;
  scenario: string;
  seed: string;
  hosts: number;
  fileSizeBytes: number;
  /** The scenario's core settings (what its supernodes were started with), over the defaults. */
  coreSettings: Partial<CoreConfig>;
  /** Finish times since t = 0 over hosts that finished. */
  completionMs: Percentiles;
  /** Finish minus arrival, over hosts that finished. */
  downloadMs: Percentiles;
  originEgressBytes: number;
  supernodeEgressBytes: number;
  /** Bytes sent / received over all nodes (finished and cut flows); equal when bytes are conserved. */
  totalSentBytes: number;
  totalReceivedBytes: number;
  lowerBoundMs: number;
  /** lowerBoundMs / completionMs.max; 0 when a surviving host did not finish. */
  efficiency: number;
  completedHosts: number;
  failedHosts: number;
  crashedHosts: number;
  unfinishedHosts: number;
  events: number;
  /** Events by kind, and the superseded flow completions dropped (`stale-flow-done`): Simulation.eventsByKind. */
  eventsByKind: Record<string, number>;
  /** Set when the run stopped at its simulated-time limit (dfsim --time-limit) with hosts unfinished. */
  stoppedAtLimitMs: number | null;
  traceHash: string;
  wallMs: number;
  counters: Record<string, number>;
  /** A core machine that threw or asked to be woken for a deadline it had just been given: the run stopped there. */
  fault: SimFault | null;
  hostResults: HostResult[];
  timeseries: TimePoint[];
}

export function percentiles(values: number[]): Percentiles {
  if (values.length === 0) return { p50: 0, p95: 0, max: 0 };
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
  return { p50: rank(0.5), p95: rank(0.95), max: sorted[sorted.length - 1] };
}

export function summarize(strategy: string, sim: Simulation, wallMs: number, counters: Record<string, number> = {},
  fault: SimFault | null = null): StrategyResult {
  const world = sim.world;
  const hostResults: HostResult[] = [];
  const finished: number[] = [];
  const downloads: number[] = [];
  let failed = 0;
  let crashed = 0;
  let unfinished = 0;
  for (let h = 0; h < sim.hostCount; h++) {
    const node = sim.hostNode(h);
    const done = !Number.isNaN(sim.completionMs[h]);
    const status: HostResult['status'] = sim.crashed[h] ? 'crashed' : done ? 'done' : sim.failure[h] !== null ? 'failed' : 'unfinished';
    if (status === 'crashed') crashed++;
    else if (status === 'failed') failed++;
    else if (status === 'unfinished') unfinished++;
    if (done && !sim.crashed[h]) {
      finished.push(sim.completionMs[h]);
      downloads.push(sim.completionMs[h] - world.arrivalMs[h]);
    }
    hostResults.push({
      host: h, arrivalMs: world.arrivalMs[h], completionMs: done ? sim.completionMs[h] : null,
      upBps: world.hostUpBps[h], downBps: world.hostDownBps[h],
      sentBytes: sim.network.sentBytes[node], receivedBytes: sim.network.receivedBytes[node], status,
      ...(sim.failure[h] !== null ? { reason: sim.failure[h]! } : {}),
    });
  }
  const completionMs = percentiles(finished);
  return {
    strategy, scenario: world.scenario.name, seed: world.scenario.seed, hosts: sim.hostCount,
    fileSizeBytes: world.scenario.fileSizeBytes, coreSettings: { ...world.scenario.core }, completionMs, downloadMs: percentiles(downloads),
    originEgressBytes: sim.network.sentBytes[sim.originNode], supernodeEgressBytes: sim.supernodeEgressBytes(),
    totalSentBytes: sim.network.sentBytes.reduce((a, b) => a + b, 0),
    totalReceivedBytes: sim.network.receivedBytes.reduce((a, b) => a + b, 0),
    lowerBoundMs: world.lowerBoundMs,
    efficiency: failed + unfinished > 0 || completionMs.max === 0 ? 0 : world.lowerBoundMs / completionMs.max,
    completedHosts: finished.length, failedHosts: failed, crashedHosts: crashed, unfinishedHosts: unfinished,
    events: sim.events, eventsByKind: sim.eventsByKind(), stoppedAtLimitMs: sim.stoppedAtLimitMs, traceHash: sim.traceHash(), wallMs, counters, fault, hostResults, timeseries: sim.timeseries,
  };
}
