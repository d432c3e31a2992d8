/**
 * The V8 heap the simulator runs with. A run allocates many short-lived objects (messages,
 * effects, results) for every event; with Node's default young generation (16 MiB semi-spaces)
 * most of them outlive a scavenge, get promoted and are collected again by mark-compact.
 * Semi-spaces of 256 MiB let them die young: at 10,000 hosts x 1 GiB, scavenges took 1.5 s of
 * the run instead of 3.6 s with 64 MiB (`node --trace-gc`), and three interleaved pairs of runs
 * took 7 % less CPU and 2 % less wall time (README, "Scale"). V8 grows the young generation only
 * as far as a run's allocation needs, so small runs stay small.
 *
 * Node reads the size at start-up only: `bin/dfsim.js` passes it on its `#!` line, the npm
 * scripts that simulate on their command lines, bench:sim to its child processes and the sweep
 * to its workers (`young generation = 3 x semi-space` in V8: two semi-spaces and the large-object
 * space beside them). test/sim/heap.test.ts checks that they all say the same.
 */
export const SIM_SEMI_SPACE_MB = 256;

/** The node flag that sets it. */
export const SIM_SEMI_SPACE_FLAG = `--max-semi-space-size=${SIM_SEMI_SPACE_MB}`;

/** `resourceLimits.maxYoungGenerationSizeMb` of a worker that simulates. */
export const SIM_YOUNG_GENERATION_MB = 3 * SIM_SEMI_SPACE_MB;
