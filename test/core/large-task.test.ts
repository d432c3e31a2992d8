/**
 * One task of 300,000 pieces through the core machines, every message through JSON and the
 * decoder as on the wire: a seeder registers the whole file in one small frame (its pieces as one
 * range), a peer resuming with all but a few scattered pieces registers them as ranges, and the
 * peer completes by fetching the rest — from the seeder, which the supernode knows holds them all.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { configOrThrow } from '../../core/config.ts';
import { decodeJson, decodePeerToSupernode, decodeSupernodeToPeer } from '../../core/decode.ts';
import { applyAndDrain } from '../../core/drive.ts';
import { Peer } from '../../core/peer.ts';
import type { PeerEffect, PeerInput } from '../../core/peer-io.ts';
import type { PeerToSupernode, SupernodeToPeer } from '../../core/protocol.ts';
import { Seeder, type SeederEffect } from '../../core/seeder.ts';
import { DEFAULT_PEER_SETTINGS } from '../../core/settings.ts';
import { Supernode } from '../../core/supernode.ts';
import type { SupernodeEffect, SupernodeInput } from '../../core/supernode-io.ts';
import { testRng } from '../helpers/swarm.ts';

const PIECES = 300_000;
const PIECE_BYTES = 64 * 1024;
const TASK = 'b'.repeat(64);
const SPEC = { url: 'http://origin.test/huge.img', headers: {} };
const SN = 'sn:8002';
const FRAME_LIMIT_BYTES = 64 * 1024;
const digestOf = (piece: number): string => `sha256:${piece.toString(16).padStart(64, '0')}`;

/** The supernode and its CDN, with every message to it passed through JSON and the decoder. */
class Rig {
  readonly supernode = new Supernode(configOrThrow({ pieceSizeBytes: PIECE_BYTES }), testRng(5));
  readonly toPeers: { to: string; msg: SupernodeToPeer }[] = [];
  largestFrameBytes = 0;
  nowMs = 0;

  deliver(from: string, msg: PeerToSupernode): void {
    const text = JSON.stringify(msg);
    this.largestFrameBytes = Math.max(this.largestFrameBytes, text.length);
    const decoded = decodeJson(text, decodePeerToSupernode);
    if (!decoded.ok) throw new Error(`${from} sent an undecodable ${msg.kind}: ${decoded.error.path} ${decoded.error.message}`);
    this.apply({ kind: 'peer-message', from, msg: decoded.msg });
  }

  apply(input: SupernodeInput): void {
    applyAndDrain(this.supernode, ++this.nowMs, input, (effect: SupernodeEffect) => {
      if (effect.kind === 'send') {
        const decoded = decodeJson(JSON.stringify(effect.msg), decodeSupernodeToPeer);
        if (!decoded.ok) throw new Error(`the supernode sent an undecodable ${effect.msg.kind}`);
        this.toPeers.push({ to: effect.to, msg: decoded.msg });
      } else if (effect.kind === 'cdn-fetch') {
        this.cdnFetchAll();
      } else if (effect.kind === 'cdn-revalidate') {
        queueInput.push({ kind: 'cdn-validated', taskId: TASK, changed: false });
      }
    });
  }

  /** The CDN stores every piece before anyone pulls (no wake-ups per piece). */
  private cdnFetchAll(): void {
    queueInput.push({ kind: 'cdn-length', taskId: TASK, totalBytes: PIECES * PIECE_BYTES });
    for (let piece = 0; piece < PIECES; piece++) queueInput.push({ kind: 'cdn-piece', taskId: TASK, piece, digest: digestOf(piece) });
    queueInput.push({ kind: 'cdn-done', taskId: TASK, totalBytes: PIECES * PIECE_BYTES, fileDigest: digestOf(PIECES) });
  }
}

/** Inputs the CDN produced, applied after the effect that caused them (as a driver would). */
const queueInput: SupernodeInput[] = [];

test('a 300,000-piece task: the seeder registers it in one small frame, a resumed peer registers ranges and completes', () => {
  const started = performance.now();
  const rig = new Rig();
  const flushCdn = (): void => {
    for (let i = 0; i < queueInput.length; i++) rig.apply(queueInput[i]);
    queueInput.length = 0;
  };

  // A seeder holding the whole file.
  const seeder = new Seeder('seeder:1', DEFAULT_PEER_SETTINGS);
  const seederSends: PeerToSupernode[] = [];
  const seederSink = (effect: SeederEffect): void => { if (effect.kind === 'send') seederSends.push(effect.msg); };
  applyAndDrain(seeder, 0, { kind: 'seed', seed: { taskId: TASK, task: SPEC, supernodes: [SN], totalBytes: PIECES * PIECE_BYTES, pieceSizeBytes: PIECE_BYTES, pieceCount: PIECES } }, seederSink);
  applyAndDrain(seeder, 0, { kind: 'connected', supernode: SN }, seederSink);
  assert.equal(seederSends.map((m) => m.kind === 'register' && m.have), [[[0, PIECES]]], 'the whole file is one range');
  for (const msg of seederSends) rig.deliver('seeder-1', msg);
  flushCdn();
  const index = rig.supernode.peerIndex(TASK, 'seeder-1');
  assert.ok(rig.supernode.swarmOf(TASK)!.isComplete(index), 'the supernode knows the seeder holds every piece');

  // A peer resuming with every piece but 40 scattered ones.
  const missing = new Set(Array.from({ length: 40 }, (_, i) => (i * 7_919 + 13) % PIECES));
  const held = Array.from({ length: PIECES }, (_, piece) => piece).filter((piece) => !missing.has(piece));
  const peer = new Peer({ backToSource: false }, 'peer-1');
  const written = new Set<number>();
  const peerInputs: PeerInput[] = [];
  let done: Extract<PeerEffect, { kind: 'done' }> | null = null;
  const peerSink = (effect: PeerEffect): void => {
    if (effect.kind === 'send') rig.deliver('peer-1', effect.msg);
    else if (effect.kind === 'fetch-piece') {
      assert.is(effect.source, 'seeder-1', `piece ${effect.piece} from the seeder, the best source`);
      peerInputs.push({ kind: 'piece-fetched', piece: effect.piece, source: effect.source, digest: digestOf(effect.piece) });
    } else if (effect.kind === 'write-piece') written.add(effect.piece);
    else if (effect.kind === 'done') done = effect;
    else if (effect.kind === 'failed') throw new Error(`the peer failed: ${effect.reason}`);
  };
  applyAndDrain(peer, rig.nowMs, {
    kind: 'start', taskId: TASK, task: SPEC, supernodes: [SN], uploadAddr: 'peer-1:1', pattern: 'p2p',
    have: held, resumePlan: { totalBytes: PIECES * PIECE_BYTES, pieceSizeBytes: PIECE_BYTES },
  }, peerSink);
  for (let step = 0; step < 10_000 && !done; step++) {
    flushCdn();
    const replies = rig.toPeers.splice(0);
    for (const { to, msg } of replies) {
      if (to === 'peer-1') applyAndDrain(peer, ++rig.nowMs, { kind: 'supernode-message', from: SN, msg }, peerSink);
    }
    for (const input of peerInputs.splice(0)) applyAndDrain(peer, ++rig.nowMs, input, peerSink);
    if (replies.length === 0 && peerInputs.length === 0 && queueInput.length === 0 && !done) {
      applyAndDrain(peer, rig.nowMs += 2_000, { kind: 'timeout' }, peerSink);
    }
  }
  assert.ok(done, 'the peer completed');
  assert.equal([...written].sort((a, b) => a - b), [...missing].sort((a, b) => a - b), 'it fetched exactly the pieces it lacked');
  assert.ok(rig.largestFrameBytes < FRAME_LIMIT_BYTES, `largest frame to the supernode: ${rig.largestFrameBytes} bytes`);
  console.log(`  300,000 pieces: largest register ${rig.largestFrameBytes} bytes; ${written.size} fetched; ${(performance.now() - started).toFixed(0)} ms`);
});

test.run();
