/**
 * The one source of the core's `Rng` for every driver, simulated or real: seedrandom's Alea
 * generator, one independent stream per node or subsystem derived from the run's seed by name
 * (`${seed}/${name}`), so adding randomness to one part of a run does not shift the numbers any
 * other part sees, and one seed replays the whole run. The real supernode logs its seed and draws
 * from `childRng(seed, 'supernode')` exactly as the simulator's supernode 0 draws from
 * `childRng(seed, 'supernode/0')`. Alea is seedrandom's fastest generator and is seeded cheaply,
 * which matters at 100,000 hosts.
 */
import { randomBytes } from 'node:crypto';
import seedrandom from 'seedrandom';
import type { Rng } from '../core/rng.ts';

export function childRng(seed: string, name: string): Rng {
  const prng = seedrandom.alea(`${seed}/${name}`);
  return { next: () => prng() };
}

/** A fresh seed for runs not given one (logged, so the run can be replayed). */
export function freshSeed(): string {
  return randomBytes(8).toString('hex');
}
