import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { configOrThrow } from '../../core/config.ts';
import { decodePeerToSupernode, DECODE_LIMITS } from '../../core/decode.ts';
import { applyAndDrain } from '../../core/drive.ts';
import { Peer } from '../../core/peer.ts';
import type { PeerEffect } from '../../core/peer-io.ts';
import { TaskSwarm } from '../../core/scheduler.ts';
import { MAX_LOCATION_PARTS, Placements } from '../../core/topology.ts';
import { testRng } from '../helpers/swarm.ts';

test('closeness: the same IDC outranks any shared location; then the longest common location prefix; case does not matter', () => {
  const p = new Placements();
  const me = p.add({ idc: 'HZ', location: 'cn|east|hz|rack1' });
  const sameRack = p.add({ idc: 'hz', location: 'cn|east|hz|rack1' });
  const sameIdc = p.add({ idc: 'hz', location: 'cn|east|hz|rack2' });
  const otherIdcSameRegion = p.add({ idc: 'sh', location: 'cn|east|sh|rack1' });
  const nothing = p.add({});
  assert.is(p.closeness(me, sameRack), MAX_LOCATION_PARTS + 1 + 4);
  assert.is(p.closeness(me, sameIdc), MAX_LOCATION_PARTS + 1 + 3);
  assert.is(p.closeness(me, otherIdcSameRegion), 2);
  assert.is(p.closeness(me, nothing), 0);
  assert.is(p.closeness(nothing, nothing), 0, 'peers that declared nothing are not close to each other');
  assert.is(p.closest(me), MAX_LOCATION_PARTS + 1 + 4);
  const long = p.add({ location: 'a|b|c|d|e|f|g' });
  const longToo = p.add({ location: 'a|b|c|d|e|x' });
  assert.is(p.closeness(long, longToo), MAX_LOCATION_PARTS, `only the first ${MAX_LOCATION_PARTS} parts count`);
});

test('register: idc and location travel when declared, are bounded, and are optional', () => {
  const register = { kind: 'register', taskId: 't', task: { url: 'http://o/f', headers: {} }, uploadAddr: 'h:1', have: [], blacklist: [], pattern: 'p2p' };
  const ok = decodePeerToSupernode({ ...register, idc: 'hz', location: 'cn|hz|r1' });
  assert.ok(ok.ok && ok.msg.kind === 'register' && ok.msg.idc === 'hz' && ok.msg.location === 'cn|hz|r1');
  const bare = decodePeerToSupernode({ ...register, idc: '', location: '' });
  assert.ok(bare.ok && bare.msg.kind === 'register' && !('idc' in bare.msg) && !('location' in bare.msg), 'empty = unknown');
  const tooLong = decodePeerToSupernode({ ...register, idc: 'x'.repeat(DECODE_LIMITS.idcChars + 1) });
  assert.ok(!tooLong.ok && tooLong.error.path === '$.idc');
  const tooDeep = decodePeerToSupernode({ ...register, location: Array(DECODE_LIMITS.locationParts + 1).fill('a').join('|') });
  assert.ok(!tooDeep.ok && tooDeep.error.path === '$.location' && /at most 16/.test(tooDeep.error.message));
  const wrongType = decodePeerToSupernode({ ...register, location: ['a', 'b'] });
  assert.ok(!wrongType.ok && wrongType.error.path === '$.location');
});

test('a peer started with --idc/--location declares them when it registers', () => {
  const peer = new Peer({ backToSource: true }, 'h1');
  const out: PeerEffect[] = [];
  applyAndDrain(peer, 0, {
    kind: 'start', taskId: 't', task: { url: 'http://o/f', headers: {} }, supernodes: ['sn'], uploadAddr: 'h1:1', idc: 'hz', location: 'cn|hz|r1',
  }, (e) => out.push(e));
  const sent = out.find((e) => e.kind === 'send');
  assert.ok(sent && sent.kind === 'send' && sent.msg.kind === 'register');
  assert.is(sent.msg.idc, 'hz');
  assert.is(sent.msg.location, 'cn|hz|r1');
});

test('scheduler: among holders that can each fill a download slot the nearest wins; a faster far one beats a slow near one', () => {
  const cfg = configOrThrow({ piecesPerPull: 1, peerDownLimit: 1, peerUpLimit: 4 });
  const rng = testRng(4);
  for (let round = 0; round < 10; round++) {
    const swarm = new TaskSwarm(1, cfg);
    swarm.markDigestKnown(0);
    const requester = swarm.addPeer(false, 0, 0, { idc: 'a', location: 'a|r1' });
    const far = swarm.addPeer(false, 0, 0, { idc: 'b', location: 'b|r1' });
    const sameIdc = swarm.addPeer(false, 0, 0, { idc: 'a', location: 'a|r2' });
    const sameRack = swarm.addPeer(false, 0, 0, { idc: 'a', location: 'a|r1' });
    for (const holder of [far, sameIdc, sameRack]) swarm.addHolding(holder, 0);
    assert.equal(swarm.schedule(requester, 0, rng), [{ piece: 0, source: sameRack }]);
    assert.equal(swarm.schedule(swarm.addPeer(false, 0, 0, { idc: 'a', location: 'a|r9' }), 0, rng), [{ piece: 0, source: sameIdc }]);
  }
  const mixed = new TaskSwarm(1, cfg);
  mixed.markDigestKnown(0);
  const requester = mixed.addPeer(false, 0, 0, { idc: 'a' });
  const slowNear = mixed.addPeer(false, 0, 12_500_000, { idc: 'a' });
  const fastFar = mixed.addPeer(false, 0, 1_250_000_000, { idc: 'b' });
  mixed.addHolding(slowNear, 0);
  mixed.addHolding(fastFar, 0);
  assert.equal(mixed.schedule(requester, 0, rng), [{ piece: 0, source: fastFar }], 'a 100 Mbit/s holder cannot fill a slot; the far one can');
});

test('scheduler: topology never changes which pieces a pull gets, only where they come from', () => {
  const cfg = configOrThrow({ piecesPerPull: 2, peerDownLimit: 2 });
  const swarm = new TaskSwarm(3, cfg);
  for (let piece = 0; piece < 3; piece++) swarm.markDigestKnown(piece);
  const requester = swarm.addPeer(false, 0, 0, { idc: 'a' });
  const near = swarm.addPeer(false, 0, 0, { idc: 'a' });
  const far = [swarm.addPeer(false, 0, 0, { idc: 'b' }), swarm.addPeer(false, 0, 0, { idc: 'b' })];
  // Piece 2 is held only far away (rarest), pieces 0 and 1 also near.
  swarm.addHolding(far[0], 2);
  for (const piece of [0, 1]) for (const holder of [near, ...far]) swarm.addHolding(holder, piece);
  const got = swarm.schedule(requester, 0, testRng(1));
  assert.is(got[0].piece, 2, 'the rarest piece first, though only a far holder has it');
  assert.is(got[0].source, far[0]);
  assert.is(got[1].source, near);
});

test.run();
