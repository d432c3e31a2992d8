import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadScenario } from '../../sim/scenario.ts';
import { failureReport } from '../../sim/checks.ts';
import { run } from '../helpers/sim-run.ts';

const SEEDS = Number(process.env.FAULT_SEEDS ?? 50);
const FIRST_SEED = Number(process.env.FAULT_SEED ?? 1);

test(`faults scenario (shrunk to 20 hosts x 32 MiB) over ${SEEDS} seeds: every surviving host finishes, every written piece verified`, () => {
  const shipped = loadScenario('faults');
  const failures: string[] = [];
  for (let seed = FIRST_SEED; seed < FIRST_SEED + SEEDS; seed++) {
    const scenario = { ...shipped, seed: String(seed), hostCount: 20, fileSizeBytes: 32 * 1024 * 1024 };
    const result = run(scenario, 'dragonfly');
    const rerun = `FAULT_SEED=${seed} FAULT_SEEDS=1 node --import tsx test/sim/faults.test.ts` +
      `  (or: node --import tsx sim/cli.ts run faults --seed ${seed} --hosts 20 --file-size 32MiB --strategy dragonfly)`;
    failures.push(...failureReport(result, rerun));
    if (result.counters.corruptFetches === 0 && seed === FIRST_SEED) failures.push(`seed ${seed}: no corrupt piece was ever fetched: the fault did not bite`);
  }
  assert.ok(failures.length === 0, `${failures.length} problems over ${SEEDS} seeds:\n${failures.slice(0, 5).join('\n')}`);
});

test('slow-fetch rescue on the faults scenario: the slow peer holds up the last host less, and every survivor still finishes over 20 seeds', () => {
  const shipped = loadScenario('faults');
  const rescue = { slowFetchFactor: 3, slowFetchMinMs: 250 };
  const without = run(shipped, 'dragonfly');
  const withRescue = run({ ...shipped, core: { ...shipped.core, ...rescue } }, 'dragonfly');
  assert.ok(withRescue.completionMs.max < without.completionMs.max,
    `last host ${withRescue.completionMs.max.toFixed(1)} ms with the rescue, ${without.completionMs.max.toFixed(1)} ms without`);
  const failures: string[] = [];
  for (let seed = 1; seed <= 20; seed++) {
    const scenario = { ...shipped, seed: String(seed), hostCount: 20, fileSizeBytes: 32 * 1024 * 1024, core: { ...shipped.core, ...rescue } };
    failures.push(...failureReport(run(scenario, 'dragonfly'),
      `node --import tsx sim/cli.ts run faults --seed ${seed} --hosts 20 --file-size 32MiB --strategy dragonfly --slow-fetch-factor 3 --slow-fetch-min-ms 250`));
  }
  assert.ok(failures.length === 0, `${failures.length} problems:\n${failures.slice(0, 5).join('\n')}`);
});

test.run();
