import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { STRATEGIES } from '../../sim/strategies/index.ts';
import { run, smallScenario } from '../helpers/sim-run.ts';

const scenario = (seed: number) => smallScenario({
  seed, fileSize: '48MiB',
  hosts: { count: 24, up: { choice: [{ value: '100Mbit' }, { value: '1Gbit' }] }, down: '1Gbit' },
  arrival: { pattern: 'poisson', ratePerSec: 50 },
});

for (const strategy of STRATEGIES) {
  test(`${strategy}: one seed replays the same event trace; another seed gives another`, () => {
    const first = run(scenario(7), strategy);
    const again = run(scenario(7), strategy);
    const other = run(scenario(8), strategy);
    const rerun = `rerun: node --import tsx sim/cli.ts run <scenario> --seed 7 --strategy ${strategy}`;
    assert.ok(first.events > 50, `too few events (${first.events}) to compare`);
    assert.is(again.traceHash, first.traceHash, `seed 7 gave two traces. ${rerun}`);
    assert.is(again.events, first.events);
    assert.equal(again.completionMs, first.completionMs);
    assert.is.not(other.traceHash, first.traceHash, 'seeds 7 and 8 gave the same trace');
  });
}

test.run();
