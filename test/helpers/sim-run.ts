/** Small-scenario helpers for simulator tests: build a scenario in code and run strategies on it. */
import { parseScenario, type Scenario } from '../../sim/scenario.ts';
import { horizonMsOf, runStrategy, type StrategyName } from '../../sim/strategies/index.ts';
import { runDragonfly, type DragonflyRun } from '../../sim/strategies/dragonfly/run.ts';
import type { RunHooks } from '../../sim/engine.ts';
import { summarize, type StrategyResult } from '../../sim/result.ts';
import { buildWorld } from '../../sim/world.ts';
import { assertWithinCapacity } from './sim-flows.ts';

export function smallScenario(doc: Record<string, unknown>): Scenario {
  return parseScenario({ name: 'test', seed: 1, fileSize: '32MiB', hosts: { count: 10, up: '1Gbit', down: '1Gbit' }, ...doc });
}

export function run(scenario: Scenario, strategy: StrategyName, hooks: RunHooks = {}): StrategyResult {
  return runStrategy(strategy, buildWorld(scenario), hooks);
}

/**
 * Run `dragonfly` and keep the run itself, for tests that look inside it (its machines, CDN,
 * transfers); `afterEvent` sees the run after every event.
 */
export function runDragonflyOpen(scenario: Scenario, afterEvent?: (run: DragonflyRun) => void): { run: DragonflyRun; result: StrategyResult } {
  const world = buildWorld(scenario);
  const holder: { run: DragonflyRun | null } = { run: null };
  const run = runDragonfly(world, afterEvent ? { afterEvent: () => afterEvent(holder.run!) } : {}, 'p2p');
  holder.run = run;
  run.sim.run(horizonMsOf(world));
  return { run, result: summarize('dragonfly', run.sim, 0, { ...run.counters }, run.fault) };
}

/** Hooks that check, after every event, that no node sends or receives above its capacity. */
export const capacityChecker: RunHooks = { afterEvent: (sim) => assertWithinCapacity(sim.network) };
