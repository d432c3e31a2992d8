/**
 * A peer told the plan before the CDN had the whole file learns the file's digest when the CDN
 * finishes (`file-digest`), so it need not hash the file itself: the supernode sends it to every
 * admitted peer that said it takes one (register.lateDigest), and the peer hands it to its driver
 * once.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { configOrThrow } from '../../core/config.ts';
import { applyAndDrain } from '../../core/drive.ts';
import { decodePeerToSupernode, decodeSupernodeToPeer } from '../../core/decode.ts';
import { Peer } from '../../core/peer.ts';
import type { PeerEffect, PeerInput } from '../../core/peer-io.ts';
import type { PeerToSupernode, TaskSpec } from '../../core/protocol.ts';
import { Supernode } from '../../core/supernode.ts';
import type { SupernodeEffect, SupernodeInput } from '../../core/supernode-io.ts';
import { testRng } from '../helpers/swarm.ts';

const T = 'c'.repeat(64);
const SPEC: TaskSpec = { url: 'http://origin.test/f', headers: {} };
const P = 64 * 1024;

function supernode() {
  const sn = new Supernode(configOrThrow({ pieceSizeBytes: P }), testRng(1));
  const feed = (nowMs: number, input: SupernodeInput): SupernodeEffect[] => {
    const out: SupernodeEffect[] = [];
    applyAndDrain(sn, nowMs, input, (e) => out.push(e));
    return out.filter((e) => e.kind !== 'log' && e.kind !== 'assigned');
  };
  const register = (nowMs: number, from: string, lateDigest?: boolean) => feed(nowMs, {
    kind: 'peer-message', from,
    msg: { kind: 'register', taskId: T, task: SPEC, uploadAddr: `${from}:1`, have: [], blacklist: [], pattern: 'p2p', ...(lateDigest ? { lateDigest } : {}) },
  });
  return { feed, register };
}

const digestsSent = (effects: SupernodeEffect[]) => effects.filter((e) => e.kind === 'send' && e.msg.kind === 'file-digest').map((e) => e.kind === 'send' && e.to);

test('the CDN finishing sends its digest to the admitted peers that take one, once', () => {
  const { feed, register } = supernode();
  register(0, 'late', true);
  register(0, 'older');
  feed(1, { kind: 'cdn-length', taskId: T, totalBytes: 3 * P });
  register(2, 'unadmitted', true);
  feed(2, { kind: 'peer-gone', peerId: 'unadmitted' });
  const done = feed(5, { kind: 'cdn-done', taskId: T, totalBytes: 3 * P, fileDigest: 'sha256:ff' });
  assert.equal(done.filter((e) => e.kind === 'send' && e.msg.kind === 'file-digest'), [
    { kind: 'send', to: 'late', msg: { kind: 'file-digest', taskId: T, fileDigest: 'sha256:ff' } },
  ]);
  assert.equal(digestsSent(feed(6, { kind: 'cdn-done', taskId: T, totalBytes: 3 * P, fileDigest: 'sha256:ff' })), [], 'the same digest again: nothing new to tell');
  const after = register(7, 'after', true);
  assert.equal(digestsSent(after), []);
  assert.ok(after.some((e) => e.kind === 'send' && e.msg.kind === 'task-info' && e.msg.fileDigest === 'sha256:ff'), 'a later peer gets it with the plan');
});

function peer() {
  const p = new Peer({ backToSource: true }, 'me');
  const feed = (nowMs: number, input: PeerInput): PeerEffect[] => {
    const out: PeerEffect[] = [];
    applyAndDrain(p, nowMs, input, (e) => out.push(e));
    return out;
  };
  return feed;
}
const START: PeerInput = { kind: 'start', taskId: T, task: SPEC, supernodes: ['sn:1'], uploadAddr: 'me:1' };

test('a peer says it takes a late digest, and hands the digest to its driver once', () => {
  const feed = peer();
  const started = feed(0, START);
  const register = started.find((e) => e.kind === 'send' && e.msg.kind === 'register');
  assert.ok(register && register.kind === 'send' && register.msg.kind === 'register' && register.msg.lateDigest === true, JSON.stringify(started));
  feed(2, { kind: 'supernode-message', from: 'sn:1', msg: { kind: 'task-info', taskId: T, totalBytes: 3 * P, pieceSizeBytes: P, pieceCount: 3 } });
  const told = feed(3, { kind: 'supernode-message', from: 'sn:1', msg: { kind: 'file-digest', taskId: T, fileDigest: 'sha256:ff' } });
  assert.equal(told.filter((e) => e.kind === 'file-digest'), [{ kind: 'file-digest', taskId: T, fileDigest: 'sha256:ff' }]);
  const again = feed(4, { kind: 'supernode-message', from: 'sn:1', msg: { kind: 'file-digest', taskId: T, fileDigest: 'sha256:ff' } });
  assert.equal(again.filter((e) => e.kind === 'file-digest'), []);
});

test('a peer that finished before the CDN did still hands the digest on (its driver may be closing the file)', () => {
  const feed = peer();
  feed(0, START);
  feed(1, { kind: 'supernode-message', from: 'sn:1', msg: { kind: 'task-info', taskId: T, totalBytes: P, pieceSizeBytes: P, pieceCount: 1 } });
  const fetched = feed(2, { kind: 'supernode-message', from: 'sn:1', msg: { kind: 'assign', taskId: T, pieces: [{ piece: 0, source: '@supernode', sourceAddr: '', digest: 'sha256:p0' }], retryAfterMs: 0 } });
  assert.ok(fetched.some((e) => e.kind === 'fetch-piece'), JSON.stringify(fetched));
  assert.ok(feed(3, { kind: 'piece-fetched', piece: 0, source: '@supernode', digest: 'sha256:p0' }).some((e) => e.kind === 'done'));
  const told = feed(4, { kind: 'supernode-message', from: 'sn:1', msg: { kind: 'file-digest', taskId: T, fileDigest: 'sha256:ff' } });
  assert.equal(told.filter((e) => e.kind === 'file-digest'), [{ kind: 'file-digest', taskId: T, fileDigest: 'sha256:ff' }]);
  assert.equal(feed(5, { kind: 'supernode-message', from: 'sn:1', msg: { kind: 'task-failed', taskId: T, reason: 'late' } }), [], 'nothing else reaches a finished peer');
});

test('a peer given the digest with its plan is not told it again', () => {
  const feed = peer();
  feed(0, START);
  const planned = feed(2, { kind: 'supernode-message', from: 'sn:1', msg: { kind: 'task-info', taskId: T, totalBytes: 3 * P, pieceSizeBytes: P, pieceCount: 3, fileDigest: 'sha256:ff' } });
  assert.ok(planned.some((e) => e.kind === 'plan' && e.fileDigest === 'sha256:ff'));
  const told = feed(3, { kind: 'supernode-message', from: 'sn:1', msg: { kind: 'file-digest', taskId: T, fileDigest: 'sha256:ff' } });
  assert.equal(told.filter((e) => e.kind === 'file-digest'), []);
});

test('the wire: file-digest and register.lateDigest decode; a bad digest or flag is refused', () => {
  assert.equal(decodeSupernodeToPeer({ kind: 'file-digest', taskId: T, fileDigest: `sha256:${'a'.repeat(64)}` }),
    { ok: true, msg: { kind: 'file-digest', taskId: T, fileDigest: `sha256:${'a'.repeat(64)}` } });
  assert.not.ok(decodeSupernodeToPeer({ kind: 'file-digest', taskId: T }).ok);
  assert.not.ok(decodeSupernodeToPeer({ kind: 'file-digest', taskId: T, fileDigest: 42 }).ok);
  const register: PeerToSupernode = { kind: 'register', taskId: T, task: SPEC, uploadAddr: 'a:1', have: [], blacklist: [], pattern: 'p2p' };
  const decoded = decodePeerToSupernode({ ...register, lateDigest: true });
  assert.ok(decoded.ok && decoded.msg.kind === 'register' && decoded.msg.lateDigest === true);
  const older = decodePeerToSupernode(register);
  assert.ok(older.ok && older.msg.kind === 'register' && older.msg.lateDigest === undefined);
  assert.not.ok(decodePeerToSupernode({ ...register, lateDigest: 'yes' }).ok);
});

test.run();
