import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { violations } from '../../sim/checks.ts';
import type { StrategyResult } from '../../sim/result.ts';

function result(counters: Record<string, number>, overrides: Partial<StrategyResult> = {}): StrategyResult {
  return {
    strategy: 'dragonfly', hosts: 2, crashedHosts: 0, completedHosts: 2, lowerBoundMs: 100,
    completionMs: { p50: 150, p95: 150, max: 150 }, hostResults: [], counters, stoppedAtLimitMs: null, ...overrides,
  } as unknown as StrategyResult;
}

test('a clean run has no violations', () => {
  assert.equal(violations(result({ unverifiedWrites: 0, assignmentsWithoutDigest: 0, repeatedDeadlines: 0 })), []);
});

test('each core guarantee the driver observes is an oracle', () => {
  assert.match(violations(result({ unverifiedWrites: 1 })).join(), /written without matching bytes/);
  assert.match(violations(result({ assignmentsWithoutDigest: 3 })).join(), /assigned 3 pieces without a digest/);
  assert.match(violations(result({ repeatedDeadlines: 2 })).join(), /asked 2 times to be woken/);
});

test('beating the lower bound and unfinished hosts are violations', () => {
  assert.match(violations(result({}, { completionMs: { p50: 50, p95: 50, max: 50 } })).join(), /before the lower bound/);
  assert.match(violations(result({}, { completedHosts: 1 })).join(), /1 of 2 surviving hosts did not finish/);
  assert.equal(violations(result({}, { completedHosts: 1, stoppedAtLimitMs: 5000 })), [], 'the CLI reports a run stopped at --time-limit itself');
});

test.run();
