import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { checkProperty } from '../helpers/fc-rerun.ts';
import { capRuns, missingRuns, planSourceFetch, SOURCE_RUN_MAX_PIECES, sourceRetryDelayMs, splitRuns } from '../../core/source-fetch.ts';

test('a fresh file is fetched as `sourceFetchConcurrency` ranged GETs over equal shares', () => {
  assert.equal(planSourceFetch({ sourceFetchConcurrency: 4 }, 16, () => false), {
    runs: [{ first: 0, end: 4 }, { first: 4, end: 8 }, { first: 8, end: 12 }, { first: 12, end: 16 }], concurrency: 4,
  });
  assert.equal(planSourceFetch({ sourceFetchConcurrency: 4 }, 2, () => false), { runs: [{ first: 0, end: 1 }, { first: 1, end: 2 }], concurrency: 2 });
  assert.equal(planSourceFetch({ sourceFetchConcurrency: 2 }, 5, (p) => p !== 3), { runs: [{ first: 3, end: 4 }], concurrency: 1 });
});

test('a large file is fetched as runs of at most SOURCE_RUN_MAX_PIECES in file order, so parallel streams stay near it', () => {
  const plan = planSourceFetch({ sourceFetchConcurrency: 2 }, 86, () => false);
  assert.is(plan.concurrency, 2);
  assert.is(plan.runs.length, Math.ceil(86 / SOURCE_RUN_MAX_PIECES));
  assert.equal(plan.runs[0], { first: 0, end: SOURCE_RUN_MAX_PIECES });
  assert.equal(plan.runs[plan.runs.length - 1], { first: 80, end: 86 });
  plan.runs.forEach((run, i) => i > 0 && assert.is(run.first, plan.runs[i - 1].end, 'consecutive, in order'));
  assert.equal(capRuns([{ first: 3, end: 5 }, { first: 10, end: 30 }], 8), [
    { first: 3, end: 5 }, { first: 10, end: 18 }, { first: 18, end: 26 }, { first: 26, end: 30 },
  ]);
});

test('property: the runs cover exactly the missing pieces, each once, in order', () => {
  checkProperty(import.meta.url, 'runs-cover-missing', fc.property(
    fc.array(fc.boolean(), { maxLength: 200 }), fc.integer({ min: 1, max: 64 }),
    (stored, concurrency) => {
      const runs = planSourceFetch({ sourceFetchConcurrency: concurrency }, stored.length, (p) => stored[p]).runs;
      const covered: number[] = [];
      for (const run of runs) for (let p = run.first; p < run.end; p++) covered.push(p);
      assert.equal(covered, stored.flatMap((s, p) => (s ? [] : [p])));
      const missing = covered.length;
      if (concurrency > 1) assert.ok(runs.every((run) => run.end - run.first <= SOURCE_RUN_MAX_PIECES));
      else assert.equal(runs, missingRuns(stored.length, (p) => stored[p]), 'one stream: one GET per run of missing pieces');
      const capped = capRuns(missingRuns(stored.length, (p) => stored[p]), SOURCE_RUN_MAX_PIECES).length;
      assert.ok(runs.length <= Math.max(concurrency, capped));
      assert.ok(missing === 0 || runs.length >= Math.min(concurrency, missing));
      assert.equal(splitRuns(runs, 1), runs, 'splitting never merges');
    },
  ));
});

test('retries back off by doubling and stop after the last attempt or on a failure that is not retryable', () => {
  const cfg = { sourceFetchAttempts: 3, sourceRetryDelayMs: 250 };
  assert.equal([1, 2, 3].map((tried) => sourceRetryDelayMs(cfg, tried, true)), [250, 500, null]);
  assert.is(sourceRetryDelayMs(cfg, 1, false), null);
});

test.run();
