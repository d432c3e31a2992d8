/** Small-scenario helpers for simulator tests: build a scenario in code and run strategies on it. */
import { parseScenario, type Scenario } from '../../sim/scenario.ts';
import { runStrategy, type StrategyName } from '../../sim/strategies/index.ts';
import type { RunHooks } from '../../sim/engine.ts';
import type { StrategyResult } from '../../sim/result.ts';
import { buildWorld } from '../../sim/world.ts';
import { assertWithinCapacity } from './sim-flows.ts';

export function smallScenario(doc: Record<string, unknown>): Scenario {
  return parseScenario({ name: 'test', seed: 1, fileSize: '32MiB', hosts: { count: 10, up: '1Gbit', down: '1Gbit' }, ...doc });
}

export function run(scenario: Scenario, strategy: StrategyName, hooks: RunHooks = {}): StrategyResult {
  return runStrategy(strategy, buildWorld(scenario), hooks);
}

/** Hooks that check, after every event, that no node sends or receives above its capacity. */
export const capacityChecker: RunHooks = { afterEvent: (sim) => assertWithinCapacity(sim.network) };
