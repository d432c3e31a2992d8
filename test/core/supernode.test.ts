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
const GRANT_TTL_MS = configOrThrow().grantTtlMs;

/** The grant a peer admitted at `nowMs` gets (unsigned: the driver signs it). */
function grantOf(peer: string, nowMs: number) {
  return { taskId: T, peer, expiresAtMs: nowMs + GRANT_TTL_MS, signature: '' };
}

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
    { kind: 'send', to: 'p1', msg: { kind: 'task-info', taskId: T, totalBytes: 10 * U, pieceSizeBytes: 4 * U, pieceCount: 3, settings: SETTINGS, grant: grantOf('p1', 5) } },
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
  const { feed, register } = machine({ revalidateAfterMs: 0 });
  register(0, 'p1');
  feed(1, { kind: 'cdn-length', taskId: T, totalBytes: 4 * U });
  feed(2, { kind: 'cdn-done', taskId: T, totalBytes: 4 * U, fileDigest: 'sha256:f' });
  const effects = register(10, 'p2');
  assert.equal(effects[0], { kind: 'cdn-revalidate', taskId: T, task: SPEC });
  assert.not.ok(effects.some((e) => e.kind === 'cdn-fetch'));
  assert.equal(feed(11, { kind: 'cdn-validated', taskId: T, changed: false }), [
    { kind: 'send', to: 'p2', msg: { kind: 'task-info', taskId: T, totalBytes: 4 * U, pieceSizeBytes: 4 * U, pieceCount: 1, fileDigest: 'sha256:f', settings: SETTINGS, grant: grantOf('p2', 11) } },
  ]);
});

test('revalidation: at most once per revalidateAfterMs (default 60 s); registrations meanwhile share it', () => {
  const { feed, register } = machine();
  register(0, 'p1');
  feed(1, { kind: 'cdn-length', taskId: T, totalBytes: 4 * U });
  feed(2, { kind: 'cdn-done', taskId: T, totalBytes: 4 * U, fileDigest: 'sha256:f' });
  const revalidations = (effects: SupernodeEffect[]) => effects.filter((e) => e.kind === 'cdn-revalidate').length;
  assert.is(revalidations(register(59_000, 'p2')), 0, 'within a minute of the fetch: no request to the source');
  assert.is(revalidations(register(60_002, 'p3')), 1, 'a minute later: one conditional GET');
  assert.is(revalidations(register(60_003, 'p4')), 0, 'while it runs, the next registration waits for its answer');
  const answered = feed(60_010, { kind: 'cdn-validated', taskId: T, changed: false });
  assert.equal(answered.map((e) => e.kind === 'send' && e.to), ['p3', 'p4'], 'both get task-info from the one answer');
  assert.is(revalidations(register(60_020, 'p5')), 0);
});

test('a private task: a credential check the source passed stands for revalidateAfterMs, per credentials', () => {
  const { feed, msg } = machine();
  const as = (auth: string) => ({ url: SPEC.url, headers: { Authorization: auth } });
  const reg = (nowMs: number, from: string, auth: string) =>
    msg(nowMs, from, { kind: 'register', taskId: T, task: as(auth), uploadAddr: `${from}:1`, have: [], blacklist: [], pattern: 'p2p' });
  const checks = (effects: SupernodeEffect[]) => effects.filter((e) => e.kind === 'check-auth').length;
  reg(0, 'p1', 'Basic good');
  feed(1, { kind: 'cdn-length', taskId: T, totalBytes: 4 * U });
  assert.is(checks(reg(2, 'p2', 'Basic good')), 0, 'the creator\'s credentials fetched the source');
  assert.is(checks(reg(3, 'p3', 'Basic other')), 1, 'other credentials are checked');
  feed(4, { kind: 'auth-result', taskId: T, peerId: 'p3', allowed: true });
  assert.is(checks(reg(5, 'p4', 'Basic other')), 0, 'and remembered once the source passed them');
  assert.is(checks(reg(70_000, 'p5', 'Basic other')), 1, 'until revalidateAfterMs has passed');
});

test('a changed source drops the cache and fetches it anew for the waiting peer', () => {
  const { feed, register } = machine({ revalidateAfterMs: 0 });
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
    { kind: 'send', to: 'p2', msg: { kind: 'task-info', taskId: T, totalBytes: 8 * U, pieceSizeBytes: 4 * U, pieceCount: 2, settings: SETTINGS, grant: grantOf('p2', 12) } },
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

test('a slow fetch keeps the source off that requester alone: no accusation, no probe; the piece is assigned elsewhere', () => {
  for (const failure of ['slow', 'unreachable'] as const) {
    const { sn, msg } = twoPeersOnePiece();
    msg(2, 'p1', { kind: 'pull', taskId: T, results: [] });
    msg(3, 'p1', { kind: 'report', taskId: T, results: [{ piece: 0, source: SUPERNODE, ok: true }] });
    const assigned = msg(4, 'p2', { kind: 'pull', taskId: T, results: [] });
    assert.is((assigned[0] as { msg: { pieces: { source: string }[] } }).msg.pieces[0].source, 'p1');
    const again = msg(5, 'p2', { kind: 'pull', taskId: T, results: [{ piece: 0, source: 'p1', ok: false, failure }] });
    assert.equal(again.filter((e) => e.kind === 'send'), [
      { kind: 'send', to: 'p2', msg: { kind: 'assign', taskId: T, pieces: [{ piece: 0, source: SUPERNODE, sourceAddr: '', digest: 'sha256:p0' }], retryAfterMs: 0 } },
    ], `${failure}: p1 is off p2's list`);
    const probed = again.some((e) => e.kind === 'probe-peer');
    assert.is(probed, failure === 'unreachable', `${failure}: ${probed ? 'probed' : 'not probed'}`);
    const blacklists = sn.swarmOf(T)!.blacklists;
    assert.ok(blacklists.isLocallyBlacklisted(1, 0), `${failure}: on p2's local blacklist`);
    assert.ok(!blacklists.isGloballyBlacklisted(0) && !blacklists.isSuspended(0));
  }
});

test('after a failover, pieces peers bring along wait for the new CDN digest before they are scheduled', () => {
  const { feed, msg } = machine();
  msg(0, 'p1', { kind: 'register', taskId: T, task: SPEC, uploadAddr: 'p1:1', have: [[0, 1]], blacklist: [], pattern: 'p2p' });
  msg(0, 'p2', { kind: 'register', taskId: T, task: SPEC, uploadAddr: 'p2:1', have: [], blacklist: [], pattern: 'p2p' });
  feed(1, { kind: 'cdn-length', taskId: T, totalBytes: 4 * U });
  const early = msg(2, 'p2', { kind: 'pull', taskId: T, results: [] });
  assert.is((early[0] as { msg: { kind: string } }).msg.kind, 'wait', 'no digest yet: nothing to assign');
  assert.equal(feed(3, { kind: 'cdn-piece', taskId: T, piece: 0, digest: 'sha256:p0' }), [
    { kind: 'send', to: 'p2', msg: { kind: 'assign', taskId: T, pieces: [{ piece: 0, source: 'p1', sourceAddr: 'p1:1', digest: 'sha256:p0' }], retryAfterMs: 0 } },
  ]);
});

test('grants: task-info admits the peer for grantTtlMs; an assign renews it past half its life or after a refusal', () => {
  const { feed, msg } = twoPeersOnePiece();
  const grantIn = (effects: SupernodeEffect[]) => effects.flatMap((e) => e.kind === 'send' && e.msg.kind === 'assign' && e.msg.grant ? [e.msg.grant] : []);
  const first = msg(2, 'p1', { kind: 'pull', taskId: T, results: [] });
  assert.equal(grantIn(first), [], 'a fresh grant needs no renewal');
  const refused = msg(3, 'p1', { kind: 'pull', taskId: T, results: [{ piece: 0, source: SUPERNODE, ok: false, failure: 'unauthorized' }] });
  assert.equal(grantIn(refused), [grantOf('p1', 3)], 'an uploader refused it: renewed at once');
  const late = msg(GRANT_TTL_MS / 2 + 10, 'p1', { kind: 'pull', taskId: T, results: [{ piece: 0, source: SUPERNODE, ok: true }] });
  assert.equal(grantIn(late), [grantOf('p1', GRANT_TTL_MS / 2 + 10)], 'past half its life: renewed');
});

test('an unauthorized refusal blames nobody: the source is not blacklisted, locally or globally', () => {
  const { sn, msg } = twoPeersOnePiece();
  msg(2, 'p1', { kind: 'pull', taskId: T, results: [] });
  msg(3, 'p1', { kind: 'report', taskId: T, results: [{ piece: 0, source: SUPERNODE, ok: true }] });
  msg(4, 'p2', { kind: 'pull', taskId: T, results: [] });
  msg(5, 'p2', { kind: 'pull', taskId: T, results: [{ piece: 0, source: 'p1', ok: false, failure: 'unauthorized' }] });
  const lists = sn.swarmOf(T)!.blacklists;
  assert.is(lists.accusersOf(sn.peerIndex(T, 'p1')), 0);
  assert.ok(lists.allows(sn.peerIndex(T, 'p2'), sn.peerIndex(T, 'p1')));
});

test('bit rot: a corrupt report on a cached piece has the CDN re-read it once; rotten means one refetch', () => {
  const { sn, feed, msg } = twoPeersOnePiece();
  msg(2, 'p1', { kind: 'pull', taskId: T, results: [] });
  const reported = msg(3, 'p1', { kind: 'pull', taskId: T, results: [{ piece: 0, source: SUPERNODE, ok: false, failure: 'corrupt' }] });
  assert.ok(reported.some((e) => e.kind === 'cdn-verify-piece' && e.piece === 0), JSON.stringify(reported));
  assert.not.ok(sn.swarmOf(T)!.isCdnReady(0), 'the suspect piece is not assigned meanwhile');
  assert.equal(feed(4, { kind: 'cdn-piece-lost', taskId: T, piece: 0 }), [{ kind: 'cdn-refetch-piece', taskId: T, piece: 0 }]);
  const back = feed(5, { kind: 'cdn-piece', taskId: T, piece: 0, digest: 'sha256:p0' });
  assert.ok(back.some((e) => e.kind === 'send' && e.msg.kind === 'assign'), 'the refetched piece is assigned again');
});

test('bit rot: a copy found intact is not re-read for a piece timeout; a piece lost again and again fails the task', () => {
  const { feed, msg } = twoPeersOnePiece();
  const corrupt = (nowMs: number, peer: string) => {
    msg(nowMs, peer, { kind: 'pull', taskId: T, results: [] });
    return msg(nowMs, peer, { kind: 'pull', taskId: T, results: [{ piece: 0, source: SUPERNODE, ok: false, failure: 'corrupt' }] });
  };
  const verifies = (effects: SupernodeEffect[]) => effects.filter((e) => e.kind === 'cdn-verify-piece').length;
  assert.is(verifies(corrupt(2, 'p1')), 1);
  feed(3, { kind: 'cdn-piece-intact', taskId: T, piece: 0 });
  assert.is(verifies(corrupt(4, 'p2')), 0, 'found intact a moment ago');
  for (let loss = 1; loss <= 3; loss++) {
    feed(10 * loss, { kind: 'cdn-piece-lost', taskId: T, piece: 0 });
    feed(10 * loss + 1, { kind: 'cdn-piece', taskId: T, piece: 0, digest: 'sha256:p0' });
  }
  const failed = feed(50, { kind: 'cdn-piece-lost', taskId: T, piece: 0 });
  assert.ok(failed.some((e) => e.kind === 'send' && e.msg.kind === 'task-failed' && /lost piece 0 4 times/.test(e.msg.reason)), JSON.stringify(failed));
  assert.ok(failed.some((e) => e.kind === 'cdn-drop'));
});

test('probes: credible accusers get a peer checked; served clears it, failed blacklists it', () => {
  for (const outcome of ['served', 'failed'] as const) {
    const { sn, feed, msg, register } = machine({ globalBlacklistThreshold: 2 });
    for (const p of ['holder', 'helper', 'a1', 'a2']) register(0, p);
    feed(1, { kind: 'cdn-length', taskId: T, totalBytes: 8 * U });
    feed(1, { kind: 'cdn-piece', taskId: T, piece: 0, digest: 'sha256:p0' });
    feed(1, { kind: 'cdn-piece', taskId: T, piece: 1, digest: 'sha256:p1' });
    // holder gets piece 0 and helper piece 1 (from the supernode), so each accuser is sent to both.
    for (const [peer, piece] of [['holder', 0], ['helper', 1]] as const) {
      sn.swarmOf(T)!.addHolding(sn.peerIndex(T, peer), piece);
    }
    const lists = sn.swarmOf(T)!.blacklists;
    const holder = sn.peerIndex(T, 'holder');
    let probe: SupernodeEffect | undefined;
    for (const [i, accuser] of ['a1', 'a2'].entries()) {
      msg(4 + i, accuser, { kind: 'pull', taskId: T, results: [] });
      // A record (a success from a peer: the helper), then a failure from the holder.
      const effects = msg(4 + i, accuser, { kind: 'pull', taskId: T, results: [
        { piece: 1, source: 'helper', ok: true }, { piece: 0, source: 'holder', ok: false, failure: 'corrupt' }] });
      probe ??= effects.find((e) => e.kind === 'probe-peer');
    }
    assert.ok(probe && probe.kind === 'probe-peer' && probe.peerId === 'holder' && probe.sourceAddr === 'holder:1' && probe.piece === 0, JSON.stringify(probe));
    assert.ok(lists.isSuspended(holder), 'nobody is sent to it while it is checked');
    feed(6, { kind: 'probe-result', taskId: T, peerId: 'holder', outcome });
    assert.is(lists.isGloballyBlacklisted(holder), outcome === 'failed');
    assert.is(lists.isSuspended(holder), false);
  }
});

test('a resumed peer\'s pieces count only in the plan they were cut by', () => {
  const { sn, feed, register } = machine();
  register(0, 'same', { have: [[0, 2]], havePlan: { totalBytes: 10 * U, pieceSizeBytes: 4 * U } });
  register(0, 'other', { have: [[0, 2]], havePlan: { totalBytes: 11 * U, pieceSizeBytes: 4 * U } });
  feed(1, { kind: 'cdn-length', taskId: T, totalBytes: 10 * U });
  const swarm = sn.swarmOf(T)!;
  assert.equal([0, 1, 2].map((piece) => swarm.hasPiece(sn.peerIndex(T, 'same'), piece)), [true, true, false]);
  assert.equal([0, 1, 2].map((piece) => swarm.hasPiece(sn.peerIndex(T, 'other'), piece)), [false, false, false]);
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
