/**
 * Where the time goes: a run's gap to T_min, decomposed from the network's link use.
 *
 * Theory of operation. A host h that arrives at a_h and has a download capacity d_h can finish
 * no earlier than a_h + F/d_h; every moment its download link runs below d_h pushes its finish
 * later by the unused fraction of that moment. So
 *
 *   T_h - (a_h + F/d_h) = integral over [a_h, T_h] of (1 - rate_h(t)/d_h) dt
 *
 * and the meter splits that integral by what the host was doing, sampled every `sampleMs` of
 * simulated time just before the next event (the state only changes at events, so the state
 * seen then is the one that held since the previous event):
 *
 *   origin-bound   every byte the supernode's CDN has stored is at the host or on its way to
 *                  it: nothing more to fetch until the origin delivers more (from the moment
 *                  the CDN's fetch starts flowing, before its first piece lands)
 *   idle           behind the CDN but no piece arriving at all: pull round trips, data-plane
 *                  request latency, back-off waits, or no free source for anything it lacks
 *   shared         pieces arriving, but below d_h: its sources' uplinks are shared with other
 *                  downloads, or too few downloads run to fill the link
 *
 * each counted before and after the CDN held the whole file (after it is the tail: the last
 * pieces spreading). For the last host, T_last - T_min = (a_h + F/d_h - T_min) + the losses, up
 * to sampling error (reported). Upload capacity left unused by the hosts, the supernodes and
 * the origin is integrated the same way. It needs nothing from the strategy: the network's
 * rates and byte counters, and the engine's afterEvent hook. Meant for strategies with a
 * supernode (`dragonfly`, `cdn-only`); without one, nothing counts as origin-bound.
 */
import type { RunHooks, Simulation } from './engine.ts';

export interface HostLoss {
  /** Seconds of download link left unused, by cause, before / after the CDN held the whole file. */
  originBoundMs: number;
  idleMs: number;
  sharedMs: number;
  tailIdleMs: number;
  tailSharedMs: number;
}

export interface GapReport {
  lowerBoundMs: number;
  lastHost: number;
  lastMs: number;
  /** When the supernode's CDN held the whole file (first sample at which it did); NaN if never. */
  cdnCompleteMs: number;
  /** For the last host: its own bound a_h + F/d_h, and the losses that add up to its finish. */
  last: HostLoss & { ownBoundMs: number; unexplainedMs: number };
  /** Mean over finished hosts. */
  mean: HostLoss;
  /** Unused share of the hosts' upload capacity over [arrival, T_last], of the supernodes' and the origin's while the CDN fetched. */
  hostUploadIdleFraction: number;
  supernodeUploadIdleFraction: number;
  originUploadIdleFraction: number;
  samples: number;
}

const ZERO: HostLoss = { originBoundMs: 0, idleMs: 0, sharedMs: 0, tailIdleMs: 0, tailSharedMs: 0 };

export class GapMeter {
  private loss: Float64Array = new Float64Array(0);
  private lastSampleMs = 0;
  private nextSampleMs = 0;
  private cdnCompleteMs = NaN;
  private hostUpIdleMs = 0;
  private hostUpTotalMs = 0;
  private supernodeUpIdleMs = 0;
  private originUpIdleMs = 0;
  private samples = 0;
  private serverSpanMs = 0;
  private sim: Simulation | null = null;

  constructor(private readonly sampleMs: number) {
    if (!(sampleMs > 0)) throw new Error(`sampleMs must be > 0, got ${sampleMs}`);
  }

  /** Hooks to pass to runStrategy; `also` runs beside them (e.g. a progress printer). */
  hooks(also: RunHooks = {}): RunHooks {
    return {
      ...also,
      beforeEvent: (sim, timeMs) => {
        also.beforeEvent?.(sim, timeMs);
        this.sim = sim;
        if (timeMs >= this.nextSampleMs) this.sample(sim, timeMs);
      },
    };
  }

  /** Attribute (last sample, now] by the state that holds just before the event at `now`. */
  private sample(sim: Simulation, now: number): void {
    const n = sim.hostCount;
    if (this.loss.length === 0) this.loss = new Float64Array(5 * n);
    const from = this.lastSampleMs;
    const net = sim.network;
    const F = sim.world.scenario.fileSizeBytes;
    let cdnBytes = 0;
    let cdnFetching = false;
    for (const node of sim.supernodeNodes) {
      cdnBytes = Math.max(cdnBytes, net.receivedBytes[node]);
      if (net.inFlowCount(node) > 0) cdnFetching = true;
    }
    // Once the CDN fetches, a host holding all it holds waits for the origin, even before its first piece lands.
    const hasSupernode = cdnBytes > 0 || cdnFetching;
    const cdnComplete = cdnBytes >= F;
    if (cdnComplete && Number.isNaN(this.cdnCompleteMs)) this.cdnCompleteMs = now;
    for (let h = 0; h < n; h++) {
      if (sim.crashed[h]) continue;
      const start = Math.max(from, sim.world.arrivalMs[h]);
      if (now <= start) continue;
      const node = sim.hostNode(h);
      const upIdle = Math.max(0, 1 - net.outRateBps(node) / net.nodeUpBps(node));
      this.hostUpIdleMs += upIdle * (now - start);
      this.hostUpTotalMs += now - start;
      // A host that finished since the last sample is not downloading now: its last stretch is
      // left out (it shows as the report's sampling error) rather than counted as idle.
      if (!Number.isNaN(sim.completionMs[h])) continue;
      const dt = now - start;
      const lost = Math.max(0, 1 - net.inRateBps(node) / net.nodeDownBps(node)) * dt;
      if (lost === 0) continue;
      const at = 5 * h;
      if (!cdnComplete && hasSupernode && net.receivedBytes[node] + net.inFlightBytes(node) >= cdnBytes) this.loss[at] += lost;
      else if (net.inFlowCount(node) === 0) this.loss[at + (cdnComplete ? 3 : 1)] += lost;
      else this.loss[at + (cdnComplete ? 4 : 2)] += lost;
    }
    // Servers' unused upload counts while the CDN fetches: afterwards they have nothing new to send.
    const dtAll = cdnComplete ? 0 : now - from;
    if (!cdnComplete) this.serverSpanMs += dtAll;
    for (const node of sim.supernodeNodes) this.supernodeUpIdleMs += Math.max(0, 1 - net.outRateBps(node) / net.nodeUpBps(node)) * dtAll / sim.supernodeNodes.length;
    this.originUpIdleMs += Math.max(0, 1 - net.outRateBps(sim.originNode) / net.nodeUpBps(sim.originNode)) * dtAll;
    this.samples++;
    this.lastSampleMs = now;
    this.nextSampleMs = now + this.sampleMs;
  }

  /** The decomposition after the run. */
  report(): GapReport {
    const sim = this.sim;
    if (!sim) throw new Error('GapMeter: no event was sampled (pass meter.hooks() to the run)');
    // The stretch since the last sample, up to the run's last event, in the state it ended in.
    if (sim.nowMs > this.lastSampleMs) this.sample(sim, sim.nowMs);
    const n = sim.hostCount;
    const F = sim.world.scenario.fileSizeBytes;
    let lastHost = -1;
    for (let h = 0; h < n; h++) {
      if (sim.crashed[h] || Number.isNaN(sim.completionMs[h])) continue;
      if (lastHost < 0 || sim.completionMs[h] > sim.completionMs[lastHost]) lastHost = h;
    }
    const lossOf = (h: number): HostLoss => (this.loss.length === 0 ? { ...ZERO } : {
      originBoundMs: this.loss[5 * h], idleMs: this.loss[5 * h + 1], sharedMs: this.loss[5 * h + 2],
      tailIdleMs: this.loss[5 * h + 3], tailSharedMs: this.loss[5 * h + 4],
    });
    const mean = { ...ZERO };
    let finished = 0;
    for (let h = 0; h < n; h++) {
      if (sim.crashed[h] || Number.isNaN(sim.completionMs[h])) continue;
      finished++;
      const l = lossOf(h);
      for (const key of Object.keys(mean) as (keyof HostLoss)[]) mean[key] += l[key];
    }
    for (const key of Object.keys(mean) as (keyof HostLoss)[]) mean[key] /= Math.max(1, finished);
    const lastMs = lastHost >= 0 ? sim.completionMs[lastHost] : NaN;
    const last = lastHost >= 0 ? lossOf(lastHost) : { ...ZERO };
    const ownBoundMs = lastHost >= 0 ? sim.world.arrivalMs[lastHost] + F / sim.network.nodeDownBps(sim.hostNode(lastHost)) * 1000 : NaN;
    const explained = last.originBoundMs + last.idleMs + last.sharedMs + last.tailIdleMs + last.tailSharedMs;
    const spanMs = Math.max(this.serverSpanMs, 1e-9);
    return {
      lowerBoundMs: sim.world.lowerBoundMs, lastHost, lastMs, cdnCompleteMs: this.cdnCompleteMs,
      last: { ...last, ownBoundMs, unexplainedMs: lastMs - ownBoundMs - explained },
      mean,
      hostUploadIdleFraction: this.hostUpTotalMs > 0 ? this.hostUpIdleMs / this.hostUpTotalMs : 0,
      supernodeUploadIdleFraction: this.supernodeUpIdleMs / spanMs,
      originUploadIdleFraction: this.originUpIdleMs / spanMs,
      samples: this.samples,
    };
  }
}
