/** The strategies `dfsim run --strategy` knows, each run on the same world (scenario + seed). */
import { defaultTimeLimitMs, type RunHooks } from '../engine.ts';
import { summarize, type StrategyResult } from '../result.ts';
import type { World } from '../world.ts';
import { runBittorrent } from './bittorrent.ts';
import { runDragonfly } from './dragonfly/run.ts';
import { runRegistry } from './registry.ts';

export const STRATEGIES = ['registry', 'cdn-only', 'dragonfly', 'bittorrent'] as const;
export type StrategyName = (typeof STRATEGIES)[number];

export function isStrategy(name: string): name is StrategyName {
  return (STRATEGIES as readonly string[]).includes(name);
}

/**
 * When a run that cannot finish (every host failed to get the file and nobody noticed) is
 * stopped unless told otherwise: engine.ts defaultTimeLimitMs (dfsim --time-limit sets another).
 */
export function horizonMsOf(world: World): number {
  return defaultTimeLimitMs(world);
}

/** Run one strategy to completion, or to the simulated-time limit. */
export function runStrategy(name: StrategyName, world: World, hooks: RunHooks = {}, timeLimitMs = horizonMsOf(world)): StrategyResult {
  const started = performance.now();
  const horizonMs = timeLimitMs;
  switch (name) {
    case 'registry': {
      const sim = runRegistry(world, hooks);
      sim.run(horizonMs);
      return summarize(name, sim, performance.now() - started);
    }
    case 'cdn-only':
    case 'dragonfly': {
      const run = runDragonfly(world, hooks, name === 'dragonfly' ? 'p2p' : 'cdn');
      run.sim.run(horizonMs);
      return summarize(name, run.sim, performance.now() - started, { ...run.counters }, run.fault);
    }
    case 'bittorrent': {
      const swarm = runBittorrent(world, hooks);
      swarm.sim.run(horizonMs);
      return summarize(name, swarm.sim, performance.now() - started, { ...swarm.counters });
    }
  }
}
