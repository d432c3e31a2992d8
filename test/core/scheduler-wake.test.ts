import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { configOrThrow } from '../../core/config.ts';
import { applyAndDrain } from '../../core/drive.ts';
import type { PeerToSupernode, TaskSpec } from '../../core/protocol.ts';
import { Supernode } from '../../core/supernode.ts';
import type { SupernodeEffect, SupernodeInput } from '../../core/supernode-io.ts';
import { testRng } from '../helpers/swarm.ts';

const T = 'c'.repeat(64);
const SPEC: TaskSpec = { url: 'http://origin.test/f', headers: {} };
const U = 16 * 1024;

/** A supernode with one upload slot everywhere and one download per peer; sends only. */
function machine() {
  const sn = new Supernode(configOrThrow({
    pieceSizeBytes: 4 * U, piecesPerPull: 1, peerDownLimit: 1, peerUpLimit: 1, supernodeUpLimit: 1, supernodeCopiesPerPiece: 0,
  }), testRng(1));
  const feed = (nowMs: number, input: SupernodeInput): SupernodeEffect[] => {
    const out: SupernodeEffect[] = [];
    applyAndDrain(sn, nowMs, input, (e) => out.push(e));
    return out.filter((e) => e.kind === 'send');
  };
  const msg = (nowMs: number, from: string, m: PeerToSupernode) => feed(nowMs, { kind: 'peer-message', from, msg: m });
  const register = (from: string, have: number[], pattern: 'p2p' | 'cdn' = 'p2p') =>
    msg(0, from, { kind: 'register', taskId: T, task: SPEC, uploadAddr: `${from}:1`, have: have.map((piece): [number, number] => [piece, piece + 1]), blacklist: [], pattern });
  const pull = (nowMs: number, from: string) => msg(nowMs, from, { kind: 'pull', taskId: T, results: [] });
  return { sn, feed, msg, register, pull };
}

/** The (piece, source) pairs of the assign sent to `to`, or null when none was sent. */
function assigned(effects: SupernodeEffect[], to: string): [number, string][] | null {
  const sent = effects.find((e) => e.kind === 'send' && e.to === to && e.msg.kind === 'assign');
  if (!sent || sent.kind !== 'send' || sent.msg.kind !== 'assign') return null;
  return sent.msg.pieces.map((p) => [p.piece, p.source]);
}

test('capacity at a source wakes the waiter it can serve, not the one at the head of the line', () => {
  const { feed, msg, register, pull } = machine();
  // Two pieces: x and a hold piece 0, y and b hold piece 1. Four takers holding nothing keep
  // all four busy, and c (cdn pattern) the supernode's one slot.
  for (const [peer, have] of [['x', [0]], ['a', [0]], ['y', [1]], ['b', [1]], ['t1', []], ['t2', []], ['t3', []], ['t4', []]] as const) {
    register(peer, [...have]);
  }
  register('c', [], 'cdn');
  feed(1, { kind: 'cdn-length', taskId: T, totalBytes: 8 * U });
  feed(1, { kind: 'cdn-piece', taskId: T, piece: 0, digest: 'sha256:p0' });
  feed(1, { kind: 'cdn-piece', taskId: T, piece: 1, digest: 'sha256:p1' });
  assert.equal(assigned(pull(2, 'c'), 'c')?.[0][1], '@supernode');
  const takerOf = new Map<string, [string, number]>();
  for (const taker of ['t1', 't2', 't3', 't4']) {
    const [[piece, source]] = assigned(pull(2, taker), taker)!;
    takerOf.set(source, [taker, piece]);
  }
  assert.equal([...takerOf.keys()].sort(), ['a', 'b', 'x', 'y'], 'every holder is busy');
  // a (lacks piece 1) starts waiting first, then b (lacks piece 0).
  assert.is(assigned(pull(3, 'a'), 'a'), null);
  assert.is(assigned(pull(3, 'b'), 'b'), null);
  // x's taker gives up without blame: x has a free slot, and only piece 0 to offer.
  const [xTaker] = takerOf.get('x')!;
  const woken = msg(4, xTaker, { kind: 'report', taskId: T, results: [{ piece: 0, source: 'x', ok: false, failure: 'busy' }] });
  assert.equal(assigned(woken, 'b'), [[0, 'x']], 'b lacks what x holds: woken with an assign');
  assert.is(assigned(woken, 'a'), null, 'a lacks nothing x holds: left waiting, still first in line');
  // Capacity for piece 1 then reaches a, which kept its place.
  const [yTaker] = takerOf.get('y')!;
  const next = msg(5, yTaker, { kind: 'report', taskId: T, results: [{ piece: 1, source: 'y', ok: false, failure: 'busy' }] });
  assert.equal(assigned(next, 'a'), [[1, 'y']]);
});

test('a new piece at the CDN wakes waiters that lack it, up to what the supernode may send', () => {
  const { feed, register, pull } = machine();
  register('p', []);
  register('q', []);
  feed(1, { kind: 'cdn-length', taskId: T, totalBytes: 4 * U });
  assert.is(assigned(pull(2, 'p'), 'p'), null);
  assert.is(assigned(pull(2, 'q'), 'q'), null);
  const woken = feed(3, { kind: 'cdn-piece', taskId: T, piece: 0, digest: 'sha256:p0' });
  assert.equal(assigned(woken, 'p'), [[0, '@supernode']], 'the first waiter gets the supernode\'s one slot');
  assert.is(assigned(woken, 'q'), null, 'the supernode is full and no peer holds the piece yet');
});

test.run();
