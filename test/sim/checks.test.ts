import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { failureReport, rerunCommand, violations } from '../../sim/checks.ts';
import type { StrategyResult } from '../../sim/result.ts';

function result(counters: Record<string, number>, overrides: Partial<StrategyResult> = {}): StrategyResult {
  return {
    strategy: 'dragonfly', scenario: 'default', seed: '9', hosts: 2, fileSizeBytes: 1024, coreSettings: {}, crashedHosts: 0, completedHosts: 2,
    lowerBoundMs: 100, completionMs: { p50: 150, p95: 150, max: 150 }, hostResults: [], counters, fault: null, stoppedAtLimitMs: null, ...overrides,
  } as unknown as StrategyResult;
}

test('a clean run has no violations', () => {
  assert.equal(violations(result({ unverifiedWrites: 0, assignmentsWithoutDigest: 0, peersOnDefaultSettings: 0 })), []);
  assert.equal(failureReport(result({})), []);
});

test('each core guarantee the driver observes is an oracle', () => {
  assert.match(violations(result({ unverifiedWrites: 1 })).join(), /written without matching bytes/);
  assert.match(violations(result({ assignmentsWithoutDigest: 3 })).join(), /assigned 3 pieces without a digest/);
  assert.match(violations(result({ peersOnDefaultSettings: 2 })).join(), /2 peers ran on the default settings/);
});

test('a machine fault is reported with the machine, its input, the time, the seed and the command that replays the run', () => {
  const fault = { machine: 'peer h3', kind: 'threw', input: 'piece-fetched piece=7 source=h5', message: 'boom', atMs: 1234.5 } as const;
  const [line] = failureReport(result({}, { fault, coreSettings: { peerUpLimit: 4, pieceSizeBytes: 2097152 } }));
  assert.is(line, 'CHECK FAILED (seed 9): dragonfly: core machine "peer h3" threw on input "piece-fetched piece=7 source=h5" at t=1234.500 ms ' +
    '(seed 9): boom; the run stopped there\n' +
    '  rerun: npx dfsim run default --seed 9 --strategy dragonfly --hosts 2 --file-size 1024 --peer-up-limit 4 --piece-size-bytes 2097152');
  assert.match(failureReport(result({}, { fault }), 'my command')[0], /\n {2}rerun: my command$/);
  assert.is(rerunCommand(result({})), 'npx dfsim run default --seed 9 --strategy dragonfly --hosts 2 --file-size 1024');
});

test('beating the lower bound and unfinished hosts are violations', () => {
  assert.match(violations(result({}, { completionMs: { p50: 50, p95: 50, max: 50 } })).join(), /before the lower bound/);
  assert.match(violations(result({}, { completedHosts: 1 })).join(), /1 of 2 surviving hosts did not finish/);
  assert.equal(violations(result({}, { completedHosts: 1, stoppedAtLimitMs: 5000 })), [], 'the CLI reports a run stopped at --time-limit itself');
});

test.run();
