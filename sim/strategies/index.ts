/** The strategies `dfsim run --strategy` knows, each run on the same world (scenario + seed). */
import { defaultTimeLimitMs, type RunHooks } from '../engine.ts';
import { summarize, type StrategyResult } from '../result.ts';
import type { World } from '../world.ts';
import { runBittorrent } from './bittorrent.ts';
import { runDragonfly } from './dragonfly.ts';
import { runRegistry } from './registry.ts';

export const STRATEGIES = ['registry', 'cdn-only', 'dragonfly', 'bittorrent'] as const;
export type StrategyName = (typeof STRATEGIES)[number];

export function isStrategy(name: string): name is StrategyName {
  return (STRATEGIES as readonly string[]).includes(name);
}

/**
 * Run one strategy to completion, or to the simulated-time limit (engine.ts defaultTimeLimitMs
 * unless given: a run that cannot finish stops long after any plausible end).
 */
export function runStrategy(name: StrategyName, world: World, hooks: RunHooks = {}, timeLimitMs = defaultTimeLimitMs(world)): StrategyResult {
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
      const { sim, counters } = runDragonfly(world, hooks, name === 'dragonfly' ? 'p2p' : 'cdn');
      sim.run(horizonMs);
      return summarize(name, sim, performance.now() - started, { ...counters });
    }
    case 'bittorrent': {
      const { sim, counters } = runBittorrent(world, hooks);
      sim.run(horizonMs);
      return summarize(name, sim, performance.now() - started, { ...counters });
    }
  }
}
