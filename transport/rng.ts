/**
 * The real processes' source of the core `Rng`: seedrandom streams derived from one seed, one
 * per subsystem (`childRng(seed, 'supernode')`), so a logged seed replays the same choices.
 */
import { randomBytes } from 'node:crypto';
import seedrandom from 'seedrandom';
import type { Rng } from '../core/rng.ts';

export function rngFromSeed(seed: string): Rng {
  const prng = seedrandom(seed);
  return { next: () => prng.quick() };
}

/** An independent stream for one named subsystem of a run. */
export function childRng(seed: string, name: string): Rng {
  return rngFromSeed(`${seed}/${name}`);
}

/** A fresh seed for runs not given one (logged, so the run can be replayed). */
export function freshSeed(): string {
  return randomBytes(8).toString('hex');
}
