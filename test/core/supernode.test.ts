import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { configOrThrow } from '../../core/config.ts';
import { applyAndDrain } from '../../core/drive.ts';
import type { PeerToSupernode, TaskSpec } from '../../core/protocol.ts';
import { SUPERNODE } from '../../core/protocol.ts';
import { Supernode } from '../../core/supernode.ts';
import { peerSettingsOf } from '../../core/settings.ts';
import type { SupernodeEffect, SupernodeInput } from '../../core/supernode-io.ts';
import { testRng } from '../helpers/swarm.ts';

const T = 'b'.repeat(64);
const SPEC: TaskSpec = { url: 'http://origin.test/f', headers: {} };
/** Sizes here are in units of 16 KiB, so 4 units is the smallest fixed piece a supernode accepts (64 KiB). */
const U = 16 * 1024;

/** What the default supernode tells every peer to run with. */
const SETTINGS = peerSettingsOf(configOrThrow());

function machine(overrides = {}) {
  const sn = new Supernode(configOrThrow({ pieceSizeBytes: 4 * U, ...overrides }), testRng(1));
  const feed = (nowMs: number, input: SupernodeInput): SupernodeEffect[] => {
    const out: SupernodeEffect[] = [];
    applyAndDrain(sn, nowMs, input, (e) => out.push(e));
    return out.filter((e) => e.kind !== 'log' && e.kind !== 'assigned');
  };
  const msg = (nowMs: number, from: string, m: PeerToSupernode) => feed(nowMs, { kind: 'peer-message', from, msg: m });
  const register = (nowMs: number, from: string, extra: Partial<Extract<PeerToSupernode, { kind: 'register' }>> = {}) =>
    msg(nowMs, from, { kind: 'register', taskId: T, task: SPEC, uploadAddr: `${from}:1`, have: [], blacklist: [], pattern: 'p2p', ...extra });
  return { sn, feed, msg, register };
}

test('a new task starts the CDN and asks the peer to wait; the plan then reaches every peer', () => {
  const { feed, register } = machine();
  assert.equal(register(0, 'p1'), [
    { kind: 'cdn-fetch', taskId: T, task: SPEC, pieceSizeBytes: 4 * U },
    { kind: 'send', to: 'p1', msg: { kind: 'wait', taskId: T, retryAfterMs: 50, reason: 'supernode is fetching the source length' } },
  ]);
  assert.equal(feed(5, { kind: 'cdn-length', taskId: T, totalBytes: 10 * U }), [
    { kind: 'send', to: 'p1', msg: { kind: 'task-info', taskId: T, totalBytes: 10 * U, pieceSizeBytes: 4 * U, pieceCount: 3, settings: SETTINGS } },
  ]);
});

test('pieces are schedulable the moment the CDN has them; waiters are woken with an assign', () => {
  const { feed, msg, register } = machine();
  register(0, 'p1');
  feed(1, { kind: 'cdn-length', taskId: T, totalBytes: 10 * U });
  const waited = msg(2, 'p1', { kind: 'pull', taskId: T, results: [] });
  assert.is(waited.length, 1);
  assert.is((waited[0] as { msg: { kind: string } }).msg.kind, 'wait');
  // Still short of work, p1 stays queued: the next capacity wakes it, the hint is only a safety net.
  assert.equal(feed(3, { kind: 'cdn-piece', taskId: T, piece: 1, digest: 'sha256:p1' }), [
    { kind: 'send', to: 'p1', msg: { kind: 'assign', taskId: T, pieces: [{ piece: 1, source: SUPERNODE, sourceAddr: '', digest: 'sha256:p1' }], retryAfterMs: 2000 } },
  ]);
});

test('a holder that reported success serves the next peer instead of the supernode', () => {
  const { feed, msg, register } = machine();
  register(0, 'p1');
  register(0, 'p2');
  feed(1, { kind: 'cdn-length', taskId: T, totalBytes: 4 * U });
  feed(1, { kind: 'cdn-piece', taskId: T, piece: 0, digest: 'sha256:p0' });
  const first = msg(2, 'p1', { kind: 'pull', taskId: T, results: [] });
  const firstAssign = first.find((e) => e.kind === 'send' && e.to === 'p1' && e.msg.kind === 'assign');
  assert.ok(firstAssign, JSON.stringify(first));
  msg(3, 'p1', { kind: 'report', taskId: T, results: [{ piece: 0, source: SUPERNODE, ok: true }] });
  const second = msg(4, 'p2', { kind: 'pull', taskId: T, results: [] });
  assert.equal(second, [
    { kind: 'send', to: 'p2', msg: { kind: 'assign', taskId: T, pieces: [{ piece: 0, source: 'p1', sourceAddr: 'p1:1', digest: 'sha256:p0' }], retryAfterMs: 0 } },
  ]);
});

test('a source failure reaches every peer with its status and the cache is dropped', () => {
  const { feed, register } = machine();
  register(0, 'p1');
  register(0, 'p2');
  assert.equal(feed(1, { kind: 'cdn-failed', taskId: T, reason: 'source answered 404 Not Found', status: 404 }), [
    { kind: 'send', to: 'p1', msg: { kind: 'task-failed', taskId: T, reason: 'source answered 404 Not Found', status: 404 } },
    { kind: 'send', to: 'p2', msg: { kind: 'task-failed', taskId: T, reason: 'source answered 404 Not Found', status: 404 } },
    { kind: 'cdn-drop', taskId: T },
  ]);
});

test('a cached task is revalidated on registration; unchanged means no refetch', () => {
  const { feed, register } = machine();
  register(0, 'p1');
  feed(1, { kind: 'cdn-length', taskId: T, totalBytes: 4 * U });
  feed(2, { kind: 'cdn-done', taskId: T, totalBytes: 4 * U, fileDigest: 'sha256:f' });
  const effects = register(10, 'p2');
  assert.equal(effects[0], { kind: 'cdn-revalidate', taskId: T, task: SPEC });
  assert.not.ok(effects.some((e) => e.kind === 'cdn-fetch'));
  assert.equal(feed(11, { kind: 'cdn-validated', taskId: T, changed: false }), [
    { kind: 'send', to: 'p2', msg: { kind: 'task-info', taskId: T, totalBytes: 4 * U, pieceSizeBytes: 4 * U, pieceCount: 1, fileDigest: 'sha256:f', settings: SETTINGS } },
  ]);
});

test('a changed source drops the cache and fetches it anew for the waiting peer', () => {
  const { feed, register } = machine();
  register(0, 'p1');
  feed(1, { kind: 'cdn-length', taskId: T, totalBytes: 4 * U });
  feed(2, { kind: 'cdn-done', taskId: T, totalBytes: 4 * U, fileDigest: 'sha256:f' });
  register(10, 'p2');
  const effects = feed(11, { kind: 'cdn-validated', taskId: T, changed: true });
  assert.equal(effects, [
    { kind: 'send', to: 'p1', msg: { kind: 'task-failed', taskId: T, reason: 'the source changed during the download; run it again for the new content' } },
    { kind: 'cdn-drop', taskId: T },
    { kind: 'cdn-fetch', taskId: T, task: SPEC, pieceSizeBytes: 4 * U },
  ]);
  assert.equal(feed(12, { kind: 'cdn-length', taskId: T, totalBytes: 8 * U }), [
    { kind: 'send', to: 'p2', msg: { kind: 'task-info', taskId: T, totalBytes: 8 * U, pieceSizeBytes: 4 * U, pieceCount: 2, settings: SETTINGS } },
  ]);
});

test('a private task makes a later requester prove its credentials; refused means 401 and no pieces', () => {
  const { feed, msg } = machine();
  const priv = { url: SPEC.url, headers: { Authorization: 'Basic dTpw' } };
  msg(0, 'p1', { kind: 'register', taskId: T, task: priv, uploadAddr: 'p1:1', have: [], blacklist: [], pattern: 'p2p' });
  feed(1, { kind: 'cdn-length', taskId: T, totalBytes: 4 * U });
  feed(1, { kind: 'cdn-piece', taskId: T, piece: 0, digest: 'sha256:p0' });
  const anon = { url: SPEC.url, headers: {} };
  const effects = msg(2, 'p2', { kind: 'register', taskId: T, task: anon, uploadAddr: 'p2:1', have: [], blacklist: [], pattern: 'p2p' });
  assert.equal(effects[0], { kind: 'check-auth', taskId: T, peerId: 'p2', task: anon });
  const pulled = msg(3, 'p2', { kind: 'pull', taskId: T, results: [] });
  assert.ok(pulled.every((e) => e.kind === 'send' && e.msg.kind === 'wait'), 'no pieces before the check');
  assert.equal(feed(4, { kind: 'auth-result', taskId: T, peerId: 'p2', allowed: false, reason: 'source answered 401' }), [
    { kind: 'send', to: 'p2', msg: { kind: 'task-failed', taskId: T, status: 401, reason: 'source answered 401' } },
  ]);
});

/** p1 and p2 registered for a one-piece file the CDN has; the supernode serves one upload at a time. */
function twoPeersOnePiece() {
  const m = machine({ supernodeUpLimit: 1 });
  m.register(0, 'p1');
  m.register(0, 'p2');
  m.feed(1, { kind: 'cdn-length', taskId: T, totalBytes: 4 * U });
  m.feed(1, { kind: 'cdn-piece', taskId: T, piece: 0, digest: 'sha256:p0' });
  return m;
}

test('a gone peer is never a source again and its running pieces are released', () => {
  const { sn, feed, msg } = twoPeersOnePiece();
  msg(2, 'p1', { kind: 'pull', taskId: T, results: [] });
  assert.is(sn.swarmOf(T)!.supernodeUploads, 1);
  feed(3, { kind: 'peer-gone', peerId: 'p1' });
  assert.is(sn.swarmOf(T)!.supernodeUploads, 0);
  const pulled = msg(4, 'p2', { kind: 'pull', taskId: T, results: [] });
  assert.is((pulled[0] as { msg: { pieces: { source: string }[] } }).msg.pieces[0].source, SUPERNODE);
});

test('a failure naming a source that has left still settles the run, so the piece is assigned again', () => {
  const { sn, feed, msg } = twoPeersOnePiece();
  msg(2, 'p1', { kind: 'pull', taskId: T, results: [] });
  msg(3, 'p1', { kind: 'report', taskId: T, results: [{ piece: 0, source: SUPERNODE, ok: true }] });
  const assigned = msg(4, 'p2', { kind: 'pull', taskId: T, results: [] });
  assert.is((assigned[0] as { msg: { pieces: { source: string }[] } }).msg.pieces[0].source, 'p1');
  feed(5, { kind: 'peer-gone', peerId: 'p1' });
  const again = msg(6, 'p2', { kind: 'pull', taskId: T, results: [{ piece: 0, source: 'p1', ok: false, failure: 'unreachable' }] });
  assert.equal(again, [
    { kind: 'send', to: 'p2', msg: { kind: 'assign', taskId: T, pieces: [{ piece: 0, source: SUPERNODE, sourceAddr: '', digest: 'sha256:p0' }], retryAfterMs: 0 } },
  ]);
  assert.is(sn.swarmOf(T)!.supernodeUploads, 1);
});

test('after a failover, pieces peers bring along wait for the new CDN digest before they are scheduled', () => {
  const { feed, msg } = machine();
  msg(0, 'p1', { kind: 'register', taskId: T, task: SPEC, uploadAddr: 'p1:1', have: [0], blacklist: [], pattern: 'p2p' });
  msg(0, 'p2', { kind: 'register', taskId: T, task: SPEC, uploadAddr: 'p2:1', have: [], blacklist: [], pattern: 'p2p' });
  feed(1, { kind: 'cdn-length', taskId: T, totalBytes: 4 * U });
  const early = msg(2, 'p2', { kind: 'pull', taskId: T, results: [] });
  assert.is((early[0] as { msg: { kind: string } }).msg.kind, 'wait', 'no digest yet: nothing to assign');
  assert.equal(feed(3, { kind: 'cdn-piece', taskId: T, piece: 0, digest: 'sha256:p0' }), [
    { kind: 'send', to: 'p2', msg: { kind: 'assign', taskId: T, pieces: [{ piece: 0, source: 'p1', sourceAddr: 'p1:1', digest: 'sha256:p0' }], retryAfterMs: 0 } },
  ]);
});

test('time never goes back', () => {
  const { feed } = machine();
  feed(10, { kind: 'timeout' });
  assert.throws(() => feed(9, { kind: 'timeout' }), /time went back/);
});

test('task-info hands every peer the supernode\'s own peer-side settings', () => {
  const { feed, register } = machine({ peerDownLimit: 8, piecesPerPull: 8, peerUpLimit: 6, pieceTimeoutMs: 9000 });
  register(0, 'p1');
  const [sent] = feed(1, { kind: 'cdn-length', taskId: T, totalBytes: 4 * U });
  assert.ok(sent.kind === 'send' && sent.msg.kind === 'task-info');
  assert.equal(sent.msg.settings, { ...SETTINGS, peerDownLimit: 8, piecesPerPull: 8, peerUpLimit: 6, pieceTimeoutMs: 9000 });
});

test.run();
