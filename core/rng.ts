/**
 * Randomness is injected: core never creates its own. Drivers adapt seedrandom to this
 * interface and derive one child stream per node/subsystem from the run's seed, so one seed
 * replays a whole run.
 */
export interface Rng {
  /** Uniform float in [0, 1). */
  next(): number;
}

/** Uniform integer in [0, n). */
export function randomInt(rng: Rng, n: number): number {
  return Math.floor(rng.next() * n);
}
