import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { applyAndDrain, fireDue } from '../../core/drive.ts';
import { DEFAULT_UPLOADER, Uploader, type UploaderConfig, type UploaderEffect, type UploaderInput, type VerifiedGrant } from '../../core/uploader.ts';

const MINUTE_MS = 60_000;

/** A grant the driver verified, for `taskId`, valid for a day of test time. */
function granted(taskId: string): VerifiedGrant {
  return { taskId, expiresAtMs: 24 * 60 * MINUTE_MS };
}

/** Feeds inputs through the shared drive helpers and returns the effects of each step. */
function harness(cfg: Partial<UploaderConfig> = {}) {
  const uploader = new Uploader({ ...DEFAULT_UPLOADER, ...cfg });
  const run = (nowMs: number, input: UploaderInput): UploaderEffect[] => {
    const effects: UploaderEffect[] = [];
    applyAndDrain(uploader, nowMs, input, (e) => effects.push(e));
    return effects;
  };
  const tick = (nowMs: number): UploaderEffect[] => {
    const effects: UploaderEffect[] = [];
    fireDue(uploader, nowMs, (e) => effects.push(e));
    return effects;
  };
  const request = (nowMs: number, from: string, requestId: number, piece: number, taskId = 'task-a') =>
    run(nowMs, { kind: 'piece-request', from, requestId, taskId, piece, grant: granted(taskId) });
  return { uploader, run, tick, request };
}

test('serves a held piece to the requester', () => {
  const { uploader, run, request } = harness();
  assert.equal(run(0, { kind: 'list-task', taskId: 'task-a', pieceCount: 4 }), []);
  assert.equal(run(0, { kind: 'have-piece', taskId: 'task-a', piece: 2 }), []);
  assert.ok(uploader.holds('task-a', 2));
  assert.equal(request(10, 'peer-1', 7, 2), [{ kind: 'serve', to: 'peer-1', requestId: 7, taskId: 'task-a', piece: 2 }]);
  assert.is(uploader.activeUploads, 1);
});

test('admission: no grant, a grant for another task or an expired one gets no bytes; a valid one does', () => {
  const { run } = harness();
  run(0, { kind: 'list-task', taskId: 'task-a', pieceCount: 4 });
  run(0, { kind: 'have-piece', taskId: 'task-a', piece: 1 });
  const ask = (nowMs: number, requestId: number, grant: VerifiedGrant | null) =>
    run(nowMs, { kind: 'piece-request', from: 'stranger', requestId, taskId: 'task-a', piece: 1, grant });
  const refused = (requestId: number) => [{ kind: 'refuse', to: 'stranger', requestId, reason: 'unauthorized' }];
  assert.equal(ask(10, 1, null), refused(1), 'no grant (or one whose signature did not verify)');
  assert.equal(ask(10, 2, { taskId: 'task-b', expiresAtMs: 1_000 }), refused(2), 'a grant for another task');
  assert.equal(run(20, { kind: 'piece-request', from: 'stranger', requestId: 4, taskId: 'task-a', piece: 3, grant: null }), refused(4),
    'a stranger is not even told which pieces are held');
  assert.equal(ask(999, 5, { taskId: 'task-a', expiresAtMs: 1_000 }), [{ kind: 'serve', to: 'stranger', requestId: 5, taskId: 'task-a', piece: 1 }]);
  assert.equal(ask(1_000, 3, { taskId: 'task-a', expiresAtMs: 1_000 }), refused(3), 'an expired grant');
});

test('refuses a missing piece, an unlisted task and an out-of-range have-piece', () => {
  const { uploader, run, request } = harness();
  run(0, { kind: 'list-task', taskId: 'task-a', pieceCount: 4 });
  run(0, { kind: 'have-piece', taskId: 'task-a', piece: 9 });
  run(0, { kind: 'have-piece', taskId: 'task-b', piece: 0 });
  assert.equal(request(1, 'peer-1', 1, 0), [{ kind: 'refuse', to: 'peer-1', requestId: 1, reason: 'missing' }]);
  assert.equal(request(1, 'peer-1', 2, 9), [{ kind: 'refuse', to: 'peer-1', requestId: 2, reason: 'missing' }]);
  assert.equal(request(1, 'peer-1', 3, 0, 'task-b'), [{ kind: 'refuse', to: 'peer-1', requestId: 3, reason: 'missing' }]);
  assert.is(uploader.activeUploads, 0);
});

test('refuses when busy; upload-finished frees a slot', () => {
  const { uploader, run, request } = harness({ uploadLimit: 2 });
  run(0, { kind: 'list-task', taskId: 'task-a', pieceCount: 4 });
  run(0, { kind: 'have-piece', taskId: 'task-a', piece: 0 });
  assert.is(request(1, 'peer-1', 1, 0)[0].kind, 'serve');
  assert.is(request(1, 'peer-2', 1, 0)[0].kind, 'serve');
  assert.equal(request(2, 'peer-3', 1, 0), [{ kind: 'refuse', to: 'peer-3', requestId: 1, reason: 'busy' }]);
  assert.equal(run(3, { kind: 'upload-finished', requestId: 1, from: 'peer-1' }), []);
  assert.is(uploader.activeUploads, 1);
  assert.equal(request(4, 'peer-3', 2, 0), [{ kind: 'serve', to: 'peer-3', requestId: 2, taskId: 'task-a', piece: 0 }]);
});

test('a repeated request id from the same peer while it runs is refused as busy', () => {
  const { run, request } = harness();
  run(0, { kind: 'list-task', taskId: 'task-a', pieceCount: 1 });
  run(0, { kind: 'have-piece', taskId: 'task-a', piece: 0 });
  assert.is(request(1, 'peer-1', 5, 0)[0].kind, 'serve');
  assert.equal(request(2, 'peer-1', 5, 0), [{ kind: 'refuse', to: 'peer-1', requestId: 5, reason: 'busy' }]);
  assert.is(request(2, 'peer-2', 5, 0)[0].kind, 'serve', 'request ids are per requester');
});

test('a task not requested for 3 minutes leaves the upload list; a request postpones it', () => {
  const { uploader, run, tick, request } = harness();
  run(0, { kind: 'list-task', taskId: 'task-a', pieceCount: 2 });
  run(0, { kind: 'have-piece', taskId: 'task-a', piece: 1 });
  assert.is(uploader.nextDeadlineMs(), 3 * MINUTE_MS);
  request(MINUTE_MS, 'peer-1', 1, 1);
  run(MINUTE_MS + 5, { kind: 'upload-finished', requestId: 1, from: 'peer-1' });
  assert.is(uploader.nextDeadlineMs(), 4 * MINUTE_MS);
  assert.equal(tick(4 * MINUTE_MS - 1), []);
  assert.equal(tick(4 * MINUTE_MS), [{ kind: 'unlisted', taskId: 'task-a' }]);
  assert.is(uploader.listedTasks, 0);
  assert.not.ok(uploader.holds('task-a', 1));
  assert.equal(request(4 * MINUTE_MS + 1, 'peer-1', 2, 1), [{ kind: 'refuse', to: 'peer-1', requestId: 2, reason: 'missing' }]);
});

test('exits once nothing is listed and nothing runs for idleExitMs, and only once', () => {
  const { uploader, run, tick } = harness();
  run(0, { kind: 'list-task', taskId: 'task-a', pieceCount: 1 });
  assert.equal(tick(3 * MINUTE_MS), [{ kind: 'unlisted', taskId: 'task-a' }]);
  // Idle from the unlisting on: the exit comes 5 minutes after it, not 5 minutes after the last use.
  assert.is(uploader.nextDeadlineMs(), 8 * MINUTE_MS);
  assert.equal(tick(8 * MINUTE_MS - 1), []);
  assert.equal(tick(8 * MINUTE_MS), [{ kind: 'exit' }]);
  assert.is(uploader.nextDeadlineMs(), null);
  assert.equal(run(9 * MINUTE_MS, { kind: 'timeout' }), []);
});

test('with a short idle exit, unlisting the last task does not exit in the same step', () => {
  const { uploader, run, tick } = harness({ unlistAfterMs: 10 * MINUTE_MS, idleExitMs: MINUTE_MS });
  run(0, { kind: 'list-task', taskId: 'task-a', pieceCount: 1 });
  assert.equal(tick(10 * MINUTE_MS), [{ kind: 'unlisted', taskId: 'task-a' }]);
  assert.is(uploader.nextDeadlineMs(), 11 * MINUTE_MS);
  assert.equal(tick(11 * MINUTE_MS), [{ kind: 'exit' }]);
});

test('does not exit while an upload runs, even with nothing listed', () => {
  const { uploader, run, tick, request } = harness({ unlistAfterMs: 0 });
  run(0, { kind: 'list-task', taskId: 'task-a', pieceCount: 1 });
  run(0, { kind: 'have-piece', taskId: 'task-a', piece: 0 });
  request(1, 'peer-1', 1, 0);
  run(2, { kind: 'unlist-task', taskId: 'task-a' });
  assert.is(uploader.nextDeadlineMs(), null, 'no deadline while an upload runs');
  assert.equal(tick(60 * MINUTE_MS), []);
  run(60 * MINUTE_MS, { kind: 'upload-finished', requestId: 1, from: 'peer-1' });
  assert.is(uploader.nextDeadlineMs(), 65 * MINUTE_MS);
  assert.equal(tick(65 * MINUTE_MS), [{ kind: 'exit' }]);
});

test('an uploader that never got a task exits idleExitMs after its first input, whatever the clock origin', () => {
  const { uploader, tick } = harness();
  const startMs = 1_700_000_000_000;
  assert.equal(tick(startMs), []);
  assert.is(uploader.nextDeadlineMs(), startMs + 5 * MINUTE_MS);
  assert.equal(tick(startMs + 5 * MINUTE_MS), [{ kind: 'exit' }]);
});

test('0 disables unlisting and exiting', () => {
  const { uploader, run, tick } = harness({ unlistAfterMs: 0, idleExitMs: 0 });
  run(0, { kind: 'list-task', taskId: 'task-a', pieceCount: 1 });
  assert.is(uploader.nextDeadlineMs(), null);
  assert.equal(run(100 * MINUTE_MS, { kind: 'timeout' }), []);
  assert.is(uploader.listedTasks, 1);
});

test('the task list is bounded: listing past maxTasks unlists the least recently used', () => {
  const { uploader, run, request } = harness({ maxTasks: 2 });
  run(0, { kind: 'list-task', taskId: 'task-a', pieceCount: 1 });
  run(1, { kind: 'list-task', taskId: 'task-b', pieceCount: 1 });
  run(1, { kind: 'have-piece', taskId: 'task-a', piece: 0 });
  request(2, 'peer-1', 1, 0, 'task-a');
  assert.equal(run(3, { kind: 'list-task', taskId: 'task-c', pieceCount: 1 }), [{ kind: 'unlisted', taskId: 'task-b' }]);
  assert.is(uploader.listedTasks, 2);
  assert.ok(uploader.holds('task-a', 0));
  assert.equal(run(4, { kind: 'list-task', taskId: 'task-a', pieceCount: 1 }), [], 'listing again keeps held pieces');
  assert.ok(uploader.holds('task-a', 0));
});

test('time going back throws', () => {
  const { run } = harness();
  run(100, { kind: 'list-task', taskId: 'task-a', pieceCount: 1 });
  assert.throws(() => run(99, { kind: 'timeout' }), /time went back: 99 < 100/);
});

test('a due deadline always fires: the check uses the same sum as nextDeadlineMs (0.7 + 0.1 - 0.7 < 0.1)', () => {
  const up = new Uploader({ uploadLimit: 1, unlistAfterMs: 0.1, idleExitMs: 0, maxTasks: 4 });
  const out: UploaderEffect[] = [];
  applyAndDrain(up, 0.7, { kind: 'list-task', taskId: 'x', pieceCount: 1 }, (e) => out.push(e));
  const due = up.nextDeadlineMs()!;
  assert.ok(due - 0.7 < 0.1, 'the float case this test is about');
  applyAndDrain(up, due, { kind: 'timeout' }, (e) => out.push(e));
  assert.equal(out, [{ kind: 'unlisted', taskId: 'x' }]);
});

test('a per-requester cap keeps one requester from taking every slot', () => {
  const up = new Uploader({ uploadLimit: 4, unlistAfterMs: 0, idleExitMs: 0, maxTasks: 4, perRequesterLimit: 2 });
  const out: UploaderEffect[] = [];
  const feed = (nowMs: number, input: UploaderInput) => applyAndDrain(up, nowMs, input, (e) => out.push(e));
  feed(0, { kind: 'list-task', taskId: 't', pieceCount: 4 });
  for (let piece = 0; piece < 4; piece++) feed(0, { kind: 'have-piece', taskId: 't', piece });
  for (let r = 1; r <= 3; r++) feed(1, { kind: 'piece-request', from: 'greedy', requestId: r, taskId: 't', piece: r, grant: granted('t') });
  feed(1, { kind: 'piece-request', from: 'other', requestId: 9, taskId: 't', piece: 0, grant: granted('t') });
  assert.equal(out.map((e) => e.kind === 'refuse' ? `refuse ${e.requestId} ${e.reason}` : `${e.kind} ${'requestId' in e ? e.requestId : ''}`),
    ['serve 1', 'serve 2', 'refuse 3 busy', 'serve 9']);
  out.length = 0;
  feed(2, { kind: 'upload-finished', from: 'greedy', requestId: 1 });
  feed(2, { kind: 'piece-request', from: 'greedy', requestId: 4, taskId: 't', piece: 3, grant: granted('t') });
  assert.equal(out, [{ kind: 'serve', to: 'greedy', requestId: 4, taskId: 't', piece: 3 }]);
});

test.run();
