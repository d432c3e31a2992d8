/**
 * One simulated chaos seed: the `chaos` scenario (crashes, corrupt uploaders, lying reporters, a
 * deleted cache, a slow peer, a supernode crash) run by the real core in the simulator, held to
 * outcome checks only:
 *
 * - after every event: no piece was written whose received bytes did not carry its digest;
 * - at the end: every surviving host finished (and the simulator's own oracles, sim/checks.ts);
 * - at the end: no honest host (no fault injected into it but slowness) is on the global
 *   blacklist of a live supernode, as a source or self-isolated.
 *
 * A failing seed prints itself with the command that replays it.
 */
import { failureReport } from '../../sim/checks.ts';
import { summarize } from '../../sim/result.ts';
import { loadScenario, type Scenario } from '../../sim/scenario.ts';
import { hostId } from '../../sim/strategies/dragonfly/control.ts';
import { runDragonfly, type DragonflyRun } from '../../sim/strategies/dragonfly/run.ts';
import { TASK_ID } from '../../sim/strategies/dragonfly/task.ts';
import { horizonMsOf } from '../../sim/strategies/index.ts';
import { buildWorld, type World } from '../../sim/world.ts';

export const CHAOS_SCENARIO = 'chaos';

export interface SimSeedOutcome {
  seed: number;
  /** Faults the world drew, per kind. */
  faults: Record<string, number>;
  hosts: number;
  survivors: number;
  completed: number;
  /** Pieces written without matching bytes (first seen at `corruptAtMs`). */
  corruptAccepted: number;
  corruptAtMs: number | null;
  honestBlacklisted: string[];
  /** Good pieces that liars reported as corrupt; corrupt pieces honest hosts rejected. */
  liedReports: number;
  corruptRejected: number;
  problems: string[];
  rerun: string;
}

export function rerunSimSeed(seed: number): string {
  return `npm run chaos -- --first-seed ${seed} --seeds 1 --rounds 0 --no-fuzz`;
}

export function runSimSeed(seed: number, base: Scenario = loadScenario(CHAOS_SCENARIO)): SimSeedOutcome {
  const world = buildWorld({ ...base, seed: String(seed) });
  let corruptAtMs: number | null = null;
  const holder: { run: DragonflyRun | null } = { run: null };
  const run = runDragonfly(world, {
    afterEvent: (sim) => {
      if (corruptAtMs === null && (holder.run?.counters.unverifiedWrites ?? 0) > 0) corruptAtMs = sim.nowMs;
    },
  }, 'p2p');
  holder.run = run;
  run.sim.run(horizonMsOf(world));
  const result = summarize('dragonfly', run.sim, 0, { ...run.counters }, run.fault);
  const rerun = rerunSimSeed(seed);
  const honestBlacklisted = blacklistedHonest(run, world);
  const problems = failureReport(result, rerun);
  if (honestBlacklisted.length > 0) {
    problems.push(`CHECK FAILED (seed ${seed}): honest hosts on a live supernode's global blacklist: ${honestBlacklisted.join(', ')}\n  rerun: ${rerun}`);
  }
  return {
    seed, faults: faultCounts(world), hosts: result.hosts, survivors: result.hosts - result.crashedHosts, completed: result.completedHosts,
    corruptAccepted: run.counters.unverifiedWrites, corruptAtMs, honestBlacklisted,
    liedReports: run.counters.liedReports, corruptRejected: run.counters.corruptFetches, problems, rerun,
  };
}

function isHonest(world: World, host: number): boolean {
  const f = world.faults[host];
  return !f.corrupt && !f.liar && f.crashAtMs === Infinity && f.deleteCacheAtMs === Infinity;
}

/** Honest hosts a live supernode holds on its global blacklist (`h7 (sn1, self-isolated)`). */
function blacklistedHonest(run: DragonflyRun, world: World): string[] {
  const found: string[] = [];
  for (let sn = 0; sn < world.scenario.supernodeCount; sn++) {
    if (run.supernodes.isDead(sn)) continue;
    const machine = run.supernodes.machine(sn);
    const lists = machine.swarmOf(TASK_ID)?.blacklists;
    if (!lists) continue;
    for (let host = 0; host < world.scenario.hostCount; host++) {
      const index = machine.peerIndex(TASK_ID, hostId(host));
      if (!isHonest(world, host) || index < 0 || !lists.isGloballyBlacklisted(index)) continue;
      found.push(`${hostId(host)} (${run.supernodes.addrs[sn]}${lists.isIsolated(index) ? ', self-isolated' : ''}${world.faults[host].slow ? ', slow' : ''})`);
    }
  }
  return found;
}

function faultCounts(world: World): Record<string, number> {
  const count = (pick: (f: World['faults'][number]) => boolean): number => world.faults.filter(pick).length;
  return {
    'sim host crash': count((f) => f.crashAtMs !== Infinity),
    'sim corrupt uploader': count((f) => f.corrupt),
    'sim lying reporter': count((f) => f.liar),
    'sim deleted cache': count((f) => f.deleteCacheAtMs !== Infinity),
    'sim slow peer': count((f) => f.slow !== null),
    'sim supernode crash': world.supernodeCrashAtMs.filter((t) => t !== Infinity).length,
  };
}
