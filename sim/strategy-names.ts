/**
 * The strategy names `dfsim --strategy` accepts, in the order a run compares them. Kept apart
 * from sim/strategies/index.ts (which loads every strategy and the core) so the CLI can check its
 * flags before loading the simulator; test/sim/cli.test.ts holds the two lists equal.
 */
export const STRATEGY_NAMES: readonly string[] = ['registry', 'cdn-only', 'dragonfly', 'bittorrent'];
