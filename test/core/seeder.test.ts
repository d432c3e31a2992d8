import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { SupernodeToPeer } from '../../core/protocol.ts';
import { Seeder, type SeedTask, type SeederEffect } from '../../core/seeder.ts';
import { DEFAULT_PEER_SETTINGS, type PeerSettings } from '../../core/settings.ts';
import { machineSteps } from '../helpers/machine-steps.ts';

const A = '10.0.0.1:8002';
const B = '10.0.0.2:8002';
const UPLOAD_ADDR = '10.0.0.9:40000';
const SETTINGS: PeerSettings = { ...DEFAULT_PEER_SETTINGS, seederRetryMinMs: 100, seederRetryMaxMs: 350 };

function task(taskId: string, supernodes: string[], extra: Partial<SeedTask> = {}): SeedTask {
  return { taskId, task: { url: `http://origin/${taskId}`, headers: {} }, supernodes, totalBytes: 300, pieceSizeBytes: 100, pieceCount: 3, ...extra };
}

function register(taskId: string, to: string): SeederEffect {
  return {
    kind: 'send', to,
    msg: { kind: 'register', taskId, task: { url: `http://origin/${taskId}`, headers: {} }, uploadAddr: UPLOAD_ADDR, have: [0, 1, 2], blacklist: [], pattern: 'p2p' },
  };
}

function harness(settings = SETTINGS) {
  const seeder = new Seeder(UPLOAD_ADDR, settings);
  const { run, tick } = machineSteps(seeder);
  const message = (nowMs: number, from: string, msg: SupernodeToPeer) => run(nowMs, { kind: 'supernode-message', from, msg });
  const logs = (effects: SeederEffect[]) => effects.filter((e) => e.kind === 'log').length;
  const withoutLogs = (effects: SeederEffect[]) => effects.filter((e) => e.kind !== 'log');
  return { seeder, run, tick, message, logs, withoutLogs };
}

test('a seeded task opens a link to its first supernode and registers every piece once it is open', () => {
  const { seeder, run } = harness();
  assert.equal(run(0, { kind: 'seed', seed: task('t1', [A, B]) }), [{ kind: 'connect', supernode: A }]);
  assert.equal(run(1, { kind: 'seed', seed: task('t2', [A]) }), [], 'a connecting link is not opened twice');
  assert.equal(run(5, { kind: 'connected', supernode: A }), [register('t1', A), register('t2', A)]);
  assert.equal(run(6, { kind: 'seed', seed: task('t3', [A], { uploadRateBytesPerSec: 5000 }) }), [
    { ...register('t3', A), msg: { ...(register('t3', A) as { msg: object }).msg, uploadRateBytesPerSec: 5000 } } as SeederEffect,
  ], 'an open link registers at once, with the declared rate');
  assert.is(seeder.seededTasks, 3);
  assert.is(seeder.nextDeadlineMs(), null, 'nothing waits');
});

test('unseed sends leave, and the last task gone closes the link', () => {
  const { seeder, run } = harness();
  run(0, { kind: 'seed', seed: task('t1', [A]) });
  run(0, { kind: 'seed', seed: task('t2', [A]) });
  run(1, { kind: 'connected', supernode: A });
  assert.equal(run(2, { kind: 'unseed', taskId: 't1' }), [{ kind: 'send', to: A, msg: { kind: 'leave', taskId: 't1' } }]);
  assert.equal(run(3, { kind: 'unseed', taskId: 't2' }), [
    { kind: 'send', to: A, msg: { kind: 'leave', taskId: 't2' } }, { kind: 'disconnect', supernode: A },
  ]);
  assert.equal(run(4, { kind: 'unseed', taskId: 't2' }), [], 'unseeding twice does nothing');
  assert.is(seeder.seededTasks, 0);
});

test('a lost link moves its tasks to their next supernode, wrapping around, with a doubling back-off per address', () => {
  const { seeder, run, tick, withoutLogs, logs } = harness();
  run(0, { kind: 'seed', seed: task('t1', [A, B]) });
  run(1, { kind: 'connected', supernode: A });
  const lostA = run(10, { kind: 'connection-lost', supernode: A, reason: 'ECONNRESET' });
  assert.is(logs(lostA), 1, 'the loss is logged');
  assert.equal(withoutLogs(lostA), [{ kind: 'connect', supernode: B }]);
  assert.is(seeder.supernodeOf('t1'), B);
  assert.is(seeder.nextDeadlineMs(), null, 'A has no task, so no timer for it');
  // B fails before opening: the task wraps around to A, whose back-off (100 ms from t=10) still runs.
  assert.equal(withoutLogs(run(20, { kind: 'connection-lost', supernode: B, reason: 'ECONNREFUSED' })), []);
  assert.is(seeder.supernodeOf('t1'), A);
  assert.is(seeder.nextDeadlineMs(), 110);
  assert.equal(tick(109), [], 'not before its back-off');
  assert.equal(tick(110), [{ kind: 'connect', supernode: A }]);
  // A fails again at once: its second loss doubles the back-off; the task goes to B, whose back-off runs to 120.
  assert.equal(withoutLogs(run(111, { kind: 'connection-lost', supernode: A, reason: 'closed' })), []);
  assert.is(seeder.supernodeOf('t1'), B);
  assert.is(seeder.nextDeadlineMs(), 120);
  assert.equal(tick(120), [{ kind: 'connect', supernode: B }]);
  assert.equal(run(121, { kind: 'connected', supernode: B }), [register('t1', B)]);
});

test('a single-supernode task waits for its supernode; back-off is capped and reset by an answer', () => {
  const { seeder, run, tick, message, withoutLogs } = harness();
  run(0, { kind: 'seed', seed: task('t1', [A]) });
  let nowMs = 0;
  const delays: number[] = [];
  for (let loss = 0; loss < 4; loss++) {
    withoutLogs(run(nowMs, { kind: 'connection-lost', supernode: A, reason: 'down' }));
    const at = seeder.nextDeadlineMs()!;
    delays.push(at - nowMs);
    assert.equal(tick(at), [{ kind: 'connect', supernode: A }]);
    nowMs = at;
  }
  assert.equal(delays, [100, 200, 350, 350], 'doubling from seederRetryMinMs, capped at seederRetryMaxMs');
  run(nowMs, { kind: 'connected', supernode: A });
  message(nowMs, A, { kind: 'wait', taskId: 't1', retryAfterMs: 10, reason: 'nothing' });
  run(nowMs + 1, { kind: 'connection-lost', supernode: A, reason: 'down' });
  assert.is(seeder.nextDeadlineMs(), nowMs + 1 + 100, 'an answer reset the back-off');
});

test('task-failed drops the registration; a task-info describing another file leaves; settings are adopted once', () => {
  const { seeder, run, message, withoutLogs, logs } = harness();
  run(0, { kind: 'seed', seed: task('t1', [A], { fileDigest: 'sha256:aa' }) });
  run(0, { kind: 'seed', seed: task('t2', [A]) });
  run(0, { kind: 'seed', seed: task('t3', [A]) });
  run(1, { kind: 'connected', supernode: A });
  const tuned: PeerSettings = { ...SETTINGS, peerDownLimit: 8, seederRetryMinMs: 1000 };
  const info = { kind: 'task-info', taskId: 't1', totalBytes: 300, pieceSizeBytes: 100, pieceCount: 3, fileDigest: 'sha256:aa', settings: tuned } as const;
  assert.equal(message(2, A, info), [{ kind: 'settings', settings: tuned, supernode: A }]);
  assert.equal(seeder.settings, tuned, 'the back-off now follows the supernode');
  assert.equal(message(3, A, { ...info, taskId: 't2' }), [], 'the same settings again change nothing');
  const changed = message(4, A, { ...info, fileDigest: 'sha256:bb' });
  assert.is(logs(changed), 1);
  assert.equal(withoutLogs(changed), [{ kind: 'send', to: A, msg: { kind: 'leave', taskId: 't1' } }]);
  const failed = message(5, A, { kind: 'task-failed', taskId: 't2', reason: 'source gone', status: 404 });
  assert.is(logs(failed), 1);
  assert.equal(withoutLogs(failed), []);
  assert.is(seeder.seededTasks, 1);
  assert.equal(withoutLogs(message(6, A, { kind: 'task-failed', taskId: 't3', reason: 'x' })), [{ kind: 'disconnect', supernode: A }]);
  assert.equal(message(7, A, { kind: 'task-failed', taskId: 't1', reason: 'x' }), [], 'messages on a closed link are ignored');
});

test('seeding a task again replaces its registration; the task count is bounded', () => {
  const seeder = new Seeder(UPLOAD_ADDR, SETTINGS, 2);
  const { run } = machineSteps(seeder);
  run(0, { kind: 'seed', seed: task('t1', [A]) });
  run(1, { kind: 'connected', supernode: A });
  assert.equal(run(2, { kind: 'seed', seed: task('t1', [B]) }), [
    { kind: 'send', to: A, msg: { kind: 'leave', taskId: 't1' } }, { kind: 'disconnect', supernode: A }, { kind: 'connect', supernode: B },
  ]);
  run(3, { kind: 'seed', seed: task('t2', [B]) });
  assert.equal(run(4, { kind: 'seed', seed: task('t3', [B]) }).map((e) => e.kind), ['log'], 'a third task over a bound of two is refused, loudly');
  assert.is(seeder.seededTasks, 2);
});

test.run();
