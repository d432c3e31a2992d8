import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { configOrThrow, supernodeSlotsFor } from '../../core/config.ts';
import { SUPERNODE_INDEX, TaskSwarm } from '../../core/scheduler.ts';
import { testRng } from '../helpers/swarm.ts';

const MBIT = 125_000;

test('supernodeSlotsFor: unknown supernode rate keeps supernodeUpLimit; a known one splits only as far as the peers are slower', () => {
  const cfg = configOrThrow({});
  assert.is(supernodeSlotsFor(cfg, 0, 50 * MBIT), cfg.supernodeUpLimit);
  // 100 Mbit/s supernode, 50 Mbit/s peers (one upload slot each): each supernode upload keeps ~3/4 of a peer's.
  assert.is(supernodeSlotsFor(cfg, 100 * MBIT, 50 * MBIT), 3);
  // 10 Gbit/s supernode over 1 Gbit/s peers (5 slots of 200 Mbit/s): far more than the limit allows.
  assert.is(supernodeSlotsFor(cfg, 10_000 * MBIT, 1000 * MBIT), cfg.supernodeUpLimit);
  // Never below one, even when the peers are faster than the supernode.
  assert.is(supernodeSlotsFor(cfg, 10 * MBIT, 10_000 * MBIT), 1);
  // A peer of unknown rate counts as the assumed rate.
  assert.is(supernodeSlotsFor(cfg, 100 * MBIT, 0), supernodeSlotsFor(cfg, 100 * MBIT, cfg.assumedUploadBytesPerSec));
});

/** A swarm whose CDN holds every piece and no peer holds any: every pull can only go to the supernode. */
function cdnOnlySupply(supernodeRate: number, peers: Array<{ rate: number; cdnOnly?: boolean }>, pieceCount = 64) {
  const cfg = configOrThrow({ supernodeCopiesPerPiece: 0 });
  const swarm = new TaskSwarm(pieceCount, cfg, supernodeRate);
  for (let piece = 0; piece < pieceCount; piece++) {
    swarm.markDigestKnown(piece);
    swarm.markCdnReady(piece);
  }
  const indices = peers.map((p) => swarm.addPeer(p.cdnOnly ?? false, 0, p.rate));
  return { cfg, swarm, indices };
}

test('scheduler: a 100 Mbit/s supernode before 50 Mbit/s peers runs 3 uploads, not 32', () => {
  const { swarm, indices } = cdnOnlySupply(100 * MBIT, Array.from({ length: 12 }, () => ({ rate: 50 * MBIT })));
  const rng = testRng(1);
  let fromSupernode = 0;
  for (const peer of indices) fromSupernode += swarm.schedule(peer, 0, rng).filter((s) => s.source === SUPERNODE_INDEX).length;
  assert.is(fromSupernode, 3);
  assert.is(swarm.supernodeUploads, 3);
  assert.is(swarm.freeUploadSlots(SUPERNODE_INDEX), 0);
  // One upload ends: one slot frees.
  const run = swarm.runningOf(indices[0])[0];
  swarm.settle(indices[0], run.piece, run.source, true, 'none');
  assert.is(swarm.freeUploadSlots(SUPERNODE_INDEX), 1);
});

test('scheduler: a lone peer (no one to relay) gets the supernode up to supernodeUpLimit; a second one brings the rate rule back', () => {
  const { cfg, swarm, indices } = cdnOnlySupply(100 * MBIT, [{ rate: 50 * MBIT }]);
  const rng = testRng(1);
  assert.is(swarm.schedule(indices[0], 0, rng).length, Math.min(cfg.piecesPerPull, cfg.peerDownLimit));
  const second = swarm.addPeer(false, 0, 50 * MBIT);
  assert.is(swarm.schedule(second, 0, rng).length, 0, 'the supernode already runs more than its 3 slots');
  swarm.removePeer(indices[0]);
  assert.is(swarm.schedule(second, 0, rng).length, Math.min(cfg.piecesPerPull, cfg.peerDownLimit), 'alone again');
});

test('scheduler: with no supernode rate the supernode runs supernodeUpLimit uploads, as before', () => {
  const { cfg, swarm, indices } = cdnOnlySupply(0, Array.from({ length: 12 }, () => ({ rate: 50 * MBIT })));
  const rng = testRng(1);
  for (const peer of indices) swarm.schedule(peer, 0, rng);
  assert.is(swarm.supernodeUploads, Math.min(cfg.supernodeUpLimit, 12 * Math.min(cfg.piecesPerPull, cfg.peerDownLimit)));
});

test('scheduler: a requester that may use only the supernode (cdn pattern) still gets it up to supernodeUpLimit', () => {
  const { cfg, swarm, indices } = cdnOnlySupply(100 * MBIT, [
    ...Array.from({ length: 3 }, () => ({ rate: 50 * MBIT })),
    ...Array.from({ length: 4 }, () => ({ rate: 50 * MBIT, cdnOnly: true })),
  ]);
  const rng = testRng(1);
  for (const peer of indices.slice(0, 3)) swarm.schedule(peer, 0, rng);
  assert.is(swarm.supernodeUploads, 3, 'the p2p peers fill the rate-derived slots');
  let cdnOnlyGot = 0;
  for (const peer of indices.slice(3)) cdnOnlyGot += swarm.schedule(peer, 0, rng).length;
  assert.is(cdnOnlyGot, 4 * Math.min(cfg.piecesPerPull, cfg.peerDownLimit));
  assert.ok(swarm.supernodeUploads <= cfg.supernodeUpLimit);
  assert.is(swarm.freeUploadSlots(SUPERNODE_INDEX), cfg.supernodeUpLimit - swarm.supernodeUploads, 'waking counts to supernodeUpLimit for them');
  for (const peer of indices.slice(3)) swarm.removePeer(peer);
  assert.is(swarm.supernodeUploads, 3);
  assert.is(swarm.freeUploadSlots(SUPERNODE_INDEX), 0, 'once they left, the rate-derived 3 slots again');
});

test.run();
