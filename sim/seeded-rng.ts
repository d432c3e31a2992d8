/**
 * seedrandom adapted to core's `Rng`: one independent stream per node or subsystem, derived
 * from the run's seed by name (`${seed}/${name}`), so adding randomness to one part of a run
 * does not shift the numbers any other part sees, and one seed replays the whole run.
 * Alea is seedrandom's fastest generator and is seeded cheaply, which matters at 100,000 hosts.
 */
import seedrandom from 'seedrandom';
import type { Rng } from '../core/rng.ts';

export function childRng(seed: string, name: string): Rng {
  const prng = seedrandom.alea(`${seed}/${name}`);
  return { next: () => prng() };
}
