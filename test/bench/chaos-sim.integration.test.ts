/**
 * The chaos campaign's simulated part, short: a few seeds of the chaos scenario (crashes,
 * corrupt uploaders, liars, a deleted cache, a slow peer, a supernode crash) end with no corrupt
 * piece written, every surviving host finished and no honest host globally blacklisted; the
 * faults really were injected and did bite.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runSimSeed } from '../../bench/chaos/sim-seed.ts';

test('three chaos seeds: every outcome check holds, and the faults bit', () => {
  for (const seed of [1, 2, 3]) {
    const o = runSimSeed(seed);
    assert.equal(o.problems, [], o.problems.join('\n'));
    assert.is(o.completed, o.survivors);
    assert.ok(o.survivors < o.hosts, 'some hosts crashed');
    assert.ok(o.corruptRejected > 0, 'corrupt pieces were fetched and rejected');
    assert.ok(o.liedReports > 0, 'the liars lied');
    assert.is(o.faults['sim supernode crash'], 1);
  }
});

test.run();
