/**
 * A scenario made concrete for one seed: each host's capacities (limits applied), arrival time
 * and faults, plus the fluid lower bound every strategy is measured against.
 *
 * Lower bound (Kumar & Ross, extended with arrivals and a supernode). Every byte a host
 * receives comes from the origin, a supernode or another host, so for N hosts that each need
 * the whole file of F bytes:
 *   T_min = max( F / u_origin,                     the first copy must leave the origin
 *                max_i(arrival_i + F / d_i),       each host downloads its copy after it arrives
 *                N·F / (u_origin + Σu_supernode + Σu_i) )   all copies share all upload capacity
 * with every capacity capped by the limits (totalLimit on hosts' up and down, localLimit on
 * hosts' down). Latency is left out, so the bound is optimistic. Times count from t = 0 (the
 * first arrival window opens), and efficiency = T_min / (time the last surviving host finishes):
 * with staggered arrivals the second term dominates once hosts arrive slower than the swarm
 * can serve them, and efficiency then says how close the last host came to "arrive and
 * download at full speed". Crashed hosts are left out of N and of the second term.
 */
import type { CoreConfig } from '../core/config.ts';
import type { Rng } from '../core/rng.ts';
import { randomInt } from '../core/rng.ts';
import type { PeerLocalConfig } from '../core/settings.ts';
import { coreConfigOf, type Distribution, type Scenario } from './scenario.ts';
import { childRng } from './seeded-rng.ts';

export interface HostFaults {
  crashAtMs: number;
  deleteCacheAtMs: number;
  corrupt: boolean;
  /** Reports every fetch from a peer as failed, after one true success (scenario `lying-peer`). */
  lying: boolean;
  /** Reports every piece it receives from a peer as corrupt (a liar trying to blacklist the honest). */
  liar: boolean;
  slow: { upBps: number; downBps: number } | null;
}

export interface World {
  scenario: Scenario;
  /**
   * What the scenario's supernodes run with (its `core:` settings over the defaults). Peers and
   * their uploaders never read it: they get the peer-side part from their supernode in task-info,
   * as in production.
   */
  supernodeConfig: CoreConfig;
  /** Each host's local dfget settings (`core.backToSource`, as `--no-back-source` sets it). */
  hostLocal: PeerLocalConfig;
  hostUpBps: number[];
  hostDownBps: number[];
  arrivalMs: number[];
  faults: HostFaults[];
  supernodeCrashAtMs: number[];
  supernodeUpBps: number;
  supernodeDownBps: number;
  originUpBps: number;
  lowerBoundMs: number;
}

export function buildWorld(scenario: Scenario): World {
  const n = scenario.hostCount;
  const capRng = childRng(scenario.seed, 'hosts');
  const cap = (bps: number, ...limits: number[]) => limits.reduce((v, l) => (l > 0 ? Math.min(v, l) : v), bps);
  const hostUpBps: number[] = [];
  const hostDownBps: number[] = [];
  // Links carry file bytes at `goodput` of their rate; limits are token buckets on file bytes already.
  const g = scenario.goodput;
  for (let i = 0; i < n; i++) {
    hostUpBps.push(cap(sample(scenario.hostUp, capRng) * g, scenario.totalLimitBps));
    hostDownBps.push(cap(sample(scenario.hostDown, capRng) * g, scenario.totalLimitBps, scenario.localLimitBps));
  }
  const arrivalMs = arrivals(scenario, childRng(scenario.seed, 'arrival'));
  const faults: HostFaults[] = Array.from({ length: n }, () => ({ crashAtMs: Infinity, deleteCacheAtMs: Infinity, corrupt: false, lying: false, liar: false, slow: null }));
  const supernodeCrashAtMs = new Array<number>(scenario.supernodeCount).fill(Infinity);
  const faultRng = childRng(scenario.seed, 'faults');
  for (const fault of scenario.faults) {
    if (fault.kind === 'supernode-crash') {
      supernodeCrashAtMs[fault.supernode] = Math.min(supernodeCrashAtMs[fault.supernode], fault.atMs);
      continue;
    }
    const picked = 'indices' in fault.hosts ? fault.hosts.indices : pickDistinct(n, fault.hosts.count, faultRng);
    for (const h of picked) {
      const f = faults[h];
      if (fault.kind === 'host-crash') f.crashAtMs = Math.min(f.crashAtMs, fault.atMs);
      else if (fault.kind === 'delete-cache') f.deleteCacheAtMs = Math.min(f.deleteCacheAtMs, fault.atMs);
      else if (fault.kind === 'corrupt-uploader') f.corrupt = true;
      else if (fault.kind === 'lying-peer') f.lying = true;
      else if (fault.kind === 'lying-reporter') f.liar = true;
      else {
        f.slow = { upBps: fault.upBps, downBps: fault.downBps };
        hostUpBps[h] = Math.min(hostUpBps[h], fault.upBps);
        hostDownBps[h] = Math.min(hostDownBps[h], fault.downBps);
      }
    }
  }
  const supernodeConfig = coreConfigOf(scenario);
  const world: World = {
    scenario, supernodeConfig, hostLocal: { backToSource: supernodeConfig.backToSource }, hostUpBps, hostDownBps, arrivalMs, faults, supernodeCrashAtMs,
    supernodeUpBps: scenario.supernodeUpBps * g, supernodeDownBps: scenario.supernodeDownBps * g,
    originUpBps: scenario.originUpBps * g, lowerBoundMs: 0,
  };
  world.lowerBoundMs = lowerBoundMs(world);
  return world;
}

export function lowerBoundMs(world: World): number {
  const F = world.scenario.fileSizeBytes;
  let survivors = 0;
  let totalUpBps = world.originUpBps + world.supernodeUpBps * world.scenario.supernodeCount;
  let latestOwnMs = 0;
  for (let i = 0; i < world.hostUpBps.length; i++) {
    totalUpBps += world.hostUpBps[i];
    if (world.faults[i].crashAtMs !== Infinity) continue;
    survivors++;
    latestOwnMs = Math.max(latestOwnMs, world.arrivalMs[i] + F / world.hostDownBps[i] * 1000);
  }
  return Math.max(F / world.originUpBps * 1000, latestOwnMs, survivors * F / totalUpBps * 1000);
}

function sample(d: Distribution, rng: Rng): number {
  switch (d.kind) {
    case 'fixed': return d.valueBps;
    case 'uniform': return Math.round(d.minBps + (d.maxBps - d.minBps) * rng.next());
    case 'choice': {
      const total = d.options.reduce((s, o) => s + o.weight, 0);
      let x = rng.next() * total;
      for (const o of d.options) {
        if (x < o.weight) return o.valueBps;
        x -= o.weight;
      }
      return d.options[d.options.length - 1].valueBps;
    }
  }
}

function arrivals(scenario: Scenario, rng: Rng): number[] {
  const out: number[] = [];
  let t = 0;
  for (let i = 0; i < scenario.hostCount; i++) {
    const a = scenario.arrival;
    if (a.pattern === 'all-at-once') out.push(0);
    else if (a.pattern === 'staggered') out.push(i * a.intervalMs);
    else {
      out.push(t);
      t += -Math.log(1 - rng.next()) / a.ratePerSec * 1000;
    }
  }
  return out;
}

function pickDistinct(n: number, count: number, rng: Rng): number[] {
  const chosen = new Set<number>();
  while (chosen.size < Math.min(count, n)) chosen.add(randomInt(rng, n));
  return [...chosen].sort((a, b) => a - b);
}
