import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { configOrThrow, type CoreConfig } from '../../core/config.ts';
import { applyAndDrain, fireDue } from '../../core/drive.ts';
import { Peer } from '../../core/peer.ts';
import type { PeerEffect, PeerInput } from '../../core/peer-io.ts';
import type { SupernodeToPeer, TaskSpec } from '../../core/protocol.ts';
import { SUPERNODE } from '../../core/protocol.ts';

const T = 'c'.repeat(64);
const SPEC: TaskSpec = { url: 'http://origin.test/f', headers: {} };
const PIECE = 1000;

function machine(overrides: Partial<CoreConfig> = {}, start: Partial<Extract<PeerInput, { kind: 'start' }>> = {}) {
  const peer = new Peer(configOrThrow({ pieceSizeBytes: PIECE, ...overrides }), 'me');
  const feed = (nowMs: number, input: PeerInput): PeerEffect[] => {
    const out: PeerEffect[] = [];
    applyAndDrain(peer, nowMs, input, (e) => out.push(e));
    return out.filter((e) => e.kind !== 'log');
  };
  const fromSn = (nowMs: number, msg: SupernodeToPeer, from = 'sn-a') => feed(nowMs, { kind: 'supernode-message', from, msg });
  const started = feed(0, { kind: 'start', taskId: T, task: SPEC, supernodes: ['sn-a', 'sn-b'], uploadAddr: 'me:1', ...start });
  const info = (nowMs: number, pieceCount = 3, from = 'sn-a') =>
    fromSn(nowMs, { kind: 'task-info', taskId: T, totalBytes: pieceCount * PIECE - 1, pieceSizeBytes: PIECE, pieceCount }, from);
  const timeouts = (nowMs: number) => { const out: PeerEffect[] = []; fireDue(peer, nowMs, (e) => out.push(e)); return out.filter((e) => e.kind !== 'log'); };
  return { peer, feed, fromSn, started, info, timeouts };
}

test('registers with the first supernode, then pulls once the plan arrives', () => {
  const { started, info } = machine();
  assert.equal(started, [{ kind: 'send', to: 'sn-a', msg: { kind: 'register', taskId: T, task: SPEC, uploadAddr: 'me:1', have: [], blacklist: [], pattern: 'p2p' } }]);
  assert.equal(info(1), [
    { kind: 'plan', taskId: T, totalBytes: 2999, pieceSizeBytes: PIECE, pieceCount: 3, discardLocal: false },
    { kind: 'send', to: 'sn-a', msg: { kind: 'pull', taskId: T, results: [] } },
  ]);
});

test('fetches what it is assigned; a verified piece is written and reported, a corrupt one is not', () => {
  const { fromSn, info, feed, peer } = machine();
  info(1);
  assert.equal(fromSn(2, { kind: 'assign', taskId: T, retryAfterMs: 0, pieces: [
    { piece: 0, source: SUPERNODE, sourceAddr: '', digest: 'sha256:a' },
    { piece: 2, source: 'p9', sourceAddr: 'p9:1', digest: 'sha256:c' },
  ] }), [
    { kind: 'fetch-piece', taskId: T, piece: 0, source: SUPERNODE, sourceAddr: 'sn-a', startByte: 0, endByte: 1000, expectedDigest: 'sha256:a' },
    { kind: 'fetch-piece', taskId: T, piece: 2, source: 'p9', sourceAddr: 'p9:1', startByte: 2000, endByte: 2999, expectedDigest: 'sha256:c' },
  ]);
  assert.equal(feed(3, { kind: 'piece-fetched', piece: 0, source: SUPERNODE, digest: 'sha256:a' }), [
    { kind: 'write-piece', taskId: T, piece: 0, startByte: 0, endByte: 1000 },
    { kind: 'send', to: 'sn-a', msg: { kind: 'pull', taskId: T, results: [{ piece: 0, source: SUPERNODE, ok: true }] } },
  ]);
  assert.equal(feed(4, { kind: 'piece-fetched', piece: 2, source: 'p9', digest: 'sha256:evil' }), [], 'result waits for the pull answer');
  assert.ok(peer.blacklisted.has('p9'));
  assert.equal(fromSn(5, { kind: 'assign', taskId: T, retryAfterMs: 0, pieces: [] }), [
    { kind: 'send', to: 'sn-a', msg: { kind: 'pull', taskId: T, results: [{ piece: 2, source: 'p9', ok: false, failure: 'corrupt' }] } },
  ]);
  assert.is(peer.verifiedPieces, 1);
});

test('the last verified piece reports and finishes', () => {
  const { fromSn, info, feed } = machine();
  info(1, 1);
  fromSn(2, { kind: 'assign', taskId: T, retryAfterMs: 0, pieces: [{ piece: 0, source: 'p1', sourceAddr: 'p1:1', digest: 'sha256:a' }] });
  assert.equal(feed(3, { kind: 'piece-fetched', piece: 0, source: 'p1', digest: 'sha256:a' }), [
    { kind: 'write-piece', taskId: T, piece: 0, startByte: 0, endByte: 999 },
    { kind: 'send', to: 'sn-a', msg: { kind: 'report', taskId: T, results: [{ piece: 0, source: 'p1', ok: true }] } },
    { kind: 'done', taskId: T, fromPeersBytes: 999, fromSupernodeBytes: 0, fromSourceBytes: 0 },
  ]);
});

test('a silent supernode is left for the next one, carrying pieces and blacklist; then back to source', () => {
  const { fromSn, info, feed, timeouts } = machine({ pullTimeoutMs: 100 });
  info(1);
  fromSn(2, { kind: 'assign', taskId: T, retryAfterMs: 0, pieces: [
    { piece: 0, source: 'p1', sourceAddr: 'p1:1', digest: 'sha256:a' }, { piece: 1, source: 'p2', sourceAddr: 'p2:1', digest: 'sha256:b' },
  ] });
  feed(3, { kind: 'piece-fetched', piece: 0, source: 'p1', digest: 'sha256:a' });
  feed(4, { kind: 'piece-fetched', piece: 1, source: 'p2', digest: null, failure: 'unreachable' });
  assert.equal(timeouts(3 + 100), [
    { kind: 'send', to: 'sn-b', msg: { kind: 'register', taskId: T, task: SPEC, uploadAddr: 'me:1', have: [0], blacklist: ['p2'], pattern: 'p2p' } },
  ]);
  assert.equal(fromSn(104, { kind: 'wait', taskId: T, retryAfterMs: 10, reason: '' }, 'sn-a'), [], 'messages from the old supernode are ignored');
  assert.equal(feed(105, { kind: 'supernode-down', supernode: 'sn-b' }), [{ kind: 'fetch-source', taskId: T, task: SPEC }]);
  assert.equal(feed(106, { kind: 'source-fetched', ok: true, sizeBytes: 2999 }), [
    { kind: 'done', taskId: T, fromPeersBytes: 1000, fromSupernodeBytes: 0, fromSourceBytes: 2999 },
  ]);
});

test('without back-to-source, losing every supernode fails with a clear reason', () => {
  const { feed } = machine({ backToSource: false });
  feed(1, { kind: 'supernode-down', supernode: 'sn-a' });
  const out = feed(2, { kind: 'supernode-down', supernode: 'sn-b' });
  assert.is(out.length, 1);
  assert.is(out[0].kind, 'failed');
  assert.match((out[0] as { reason: string }).reason, /no supernode reachable/);
});

test('a fetch with no answer times out, is cancelled and reported', () => {
  const { fromSn, info, timeouts } = machine({ pieceTimeoutMs: 50 });
  info(1);
  fromSn(2, { kind: 'assign', taskId: T, retryAfterMs: 0, pieces: [{ piece: 1, source: 'p3', sourceAddr: 'p3:1', digest: 'sha256:b' }] });
  assert.equal(timeouts(52), [
    { kind: 'cancel-fetch', taskId: T, piece: 1, source: 'p3' },
    { kind: 'send', to: 'sn-a', msg: { kind: 'pull', taskId: T, results: [{ piece: 1, source: 'p3', ok: false, failure: 'timeout' }] } },
  ]);
});

test('resume: verified pieces on disk are reused when the plan matches, discarded when it does not', () => {
  const same = machine({}, { have: [0, 1, 2], resumePlan: { totalBytes: 2999, pieceSizeBytes: PIECE } });
  assert.equal(same.started[0], { kind: 'send', to: 'sn-a', msg: { kind: 'register', taskId: T, task: SPEC, uploadAddr: 'me:1', have: [], blacklist: [], pattern: 'p2p' } });
  const out = same.info(1);
  assert.equal(out[0], { kind: 'plan', taskId: T, totalBytes: 2999, pieceSizeBytes: PIECE, pieceCount: 3, discardLocal: false });
  assert.is(out[1].kind, 'done');
  const changed = machine({}, { have: [0], resumePlan: { totalBytes: 5000, pieceSizeBytes: PIECE } });
  const out2 = changed.info(1);
  assert.equal(out2[0], { kind: 'plan', taskId: T, totalBytes: 2999, pieceSizeBytes: PIECE, pieceCount: 3, discardLocal: true });
  assert.is(out2[1].kind, 'send');
});

test('a wait answer arms a retry; the retry pulls again', () => {
  const { fromSn, info, timeouts } = machine();
  info(1);
  assert.equal(fromSn(2, { kind: 'wait', taskId: T, retryAfterMs: 40, reason: 'busy' }), []);
  assert.equal(timeouts(41), []);
  assert.equal(timeouts(42), [{ kind: 'send', to: 'sn-a', msg: { kind: 'pull', taskId: T, results: [] } }]);
});

test('task-failed from the supernode ends the download with the source status', () => {
  const { fromSn } = machine();
  assert.equal(fromSn(1, { kind: 'task-failed', taskId: T, reason: 'source answered 404', status: 404 }), [
    { kind: 'send', to: 'sn-a', msg: { kind: 'leave', taskId: T } },
    { kind: 'failed', taskId: T, reason: 'source answered 404', status: 404 },
  ]);
});

test('migration cancels every running fetch, so the next supernode and the peer agree on what runs', () => {
  const { fromSn, info, feed } = machine();
  info(1);
  fromSn(2, { kind: 'assign', taskId: T, retryAfterMs: 0, pieces: [
    { piece: 1, source: 'p1', sourceAddr: 'p1:1', digest: 'sha256:b' }, { piece: 2, source: SUPERNODE, sourceAddr: '', digest: 'sha256:c' },
  ] });
  assert.equal(feed(3, { kind: 'supernode-down', supernode: 'sn-a' }), [
    { kind: 'cancel-fetch', taskId: T, piece: 1, source: 'p1' },
    { kind: 'cancel-fetch', taskId: T, piece: 2, source: SUPERNODE },
    { kind: 'send', to: 'sn-b', msg: { kind: 'register', taskId: T, task: SPEC, uploadAddr: 'me:1', have: [], blacklist: [], pattern: 'p2p' } },
  ]);
  assert.equal(feed(4, { kind: 'piece-fetched', piece: 1, source: 'p1', digest: 'sha256:b' }), [], 'late bytes of a cancelled fetch are ignored');
});

test('an assignment for a piece already running is handed back as busy (regression: faults seed 1)', () => {
  const { fromSn, info } = machine();
  info(1);
  fromSn(2, { kind: 'assign', taskId: T, retryAfterMs: 0, pieces: [{ piece: 1, source: 'p1', sourceAddr: 'p1:1', digest: 'sha256:b' }] });
  fromSn(3, { kind: 'assign', taskId: T, retryAfterMs: 0, pieces: [] });
  assert.equal(fromSn(4, { kind: 'assign', taskId: T, retryAfterMs: 0, pieces: [{ piece: 1, source: SUPERNODE, sourceAddr: '', digest: 'sha256:b' }] }), [
    { kind: 'send', to: 'sn-a', msg: { kind: 'pull', taskId: T, results: [{ piece: 1, source: SUPERNODE, ok: false, failure: 'busy' }] } },
  ]);
});

test('a downloading peer with nothing running and no answer pending always has a retry armed', () => {
  const { fromSn, info, peer } = machine({ waitMaxMs: 700 });
  info(1);
  fromSn(2, { kind: 'assign', taskId: T, retryAfterMs: 0, pieces: [] });
  assert.is(peer.nextDeadlineMs(), 702);
});

test.run();
