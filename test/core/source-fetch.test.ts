import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { checkProperty } from '../helpers/fc-rerun.ts';
import { missingRuns, planSourceFetch, sourceRetryDelayMs, splitRuns } from '../../core/source-fetch.ts';

test('a fresh file is fetched as `sourceFetchConcurrency` ranged GETs over equal shares', () => {
  assert.equal(planSourceFetch({ sourceFetchConcurrency: 4 }, 16, () => false), {
    runs: [{ first: 0, end: 4 }, { first: 4, end: 8 }, { first: 8, end: 12 }, { first: 12, end: 16 }], concurrency: 4,
  });
  assert.equal(planSourceFetch({ sourceFetchConcurrency: 4 }, 2, () => false), { runs: [{ first: 0, end: 1 }, { first: 1, end: 2 }], concurrency: 2 });
  assert.equal(planSourceFetch({ sourceFetchConcurrency: 2 }, 5, (p) => p !== 3), { runs: [{ first: 3, end: 4 }], concurrency: 1 });
});

test('property: the runs cover exactly the missing pieces, each once, in order', () => {
  checkProperty(import.meta.url, 'runs-cover-missing', fc.property(
    fc.array(fc.boolean(), { maxLength: 200 }), fc.integer({ min: 1, max: 64 }),
    (stored, concurrency) => {
      const runs = splitRuns(missingRuns(stored.length, (p) => stored[p]), concurrency);
      const covered: number[] = [];
      for (const run of runs) for (let p = run.first; p < run.end; p++) covered.push(p);
      assert.equal(covered, stored.flatMap((s, p) => (s ? [] : [p])));
      const missing = covered.length;
      assert.ok(runs.length <= Math.max(concurrency, missingRuns(stored.length, (p) => stored[p]).length));
      assert.ok(missing === 0 || runs.length >= Math.min(concurrency, missing));
    },
  ));
});

test('retries back off by doubling and stop after the last attempt or on a failure that is not retryable', () => {
  const cfg = { sourceFetchAttempts: 3, sourceRetryDelayMs: 250 };
  assert.equal([1, 2, 3].map((tried) => sourceRetryDelayMs(cfg, tried, true)), [250, 500, null]);
  assert.is(sourceRetryDelayMs(cfg, 1, false), null);
});

test.run();
