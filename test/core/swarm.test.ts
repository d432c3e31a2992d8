import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Swarm } from '../helpers/swarm.ts';

test('20 peers and a supernode distribute a 100-piece file; most uploads come from peers', () => {
  const swarm = new Swarm({ peers: 20, pieceCount: 100, seed: 7 });
  swarm.run();
  assert.is(swarm.failed.size, 0, `failed: ${JSON.stringify([...swarm.failed.values()])}`);
  assert.is(swarm.done.size, 20);
  for (let i = 0; i < 20; i++) assert.is(swarm.written[i].size, 100, `peer ${i} wrote ${swarm.written[i].size} pieces`);
  console.log(`  supernode uploads: ${swarm.supernodeUploads} of ${20 * 100} piece downloads (peers served ${swarm.peerUploads})`);
  assert.ok(swarm.supernodeUploads < 20 * 100 / 4, `supernode served ${swarm.supernodeUploads}`);
});

test('two peers that fail every upload end on the global blacklist and everyone finishes', () => {
  for (const fault of ['refuse', 'corrupt'] as const) {
    const swarm = new Swarm({ peers: 12, pieceCount: 40, seed: 3, faulty: new Map([[0, fault], [1, fault]]) });
    swarm.run();
    assert.is(swarm.failed.size, 0);
    assert.is(swarm.done.size, 12);
    const blacklisted = swarm.supernode.swarmOf('a'.repeat(64))!.blacklists.globallyBlacklisted;
    assert.ok(blacklisted.has(swarm.supernode.peerIndex('a'.repeat(64), 'peer-0')), `${fault}: peer-0 not blacklisted`);
    assert.ok(blacklisted.has(swarm.supernode.peerIndex('a'.repeat(64), 'peer-1')), `${fault}: peer-1 not blacklisted`);
    assert.ok(swarm.supernode.stats().peersGloballyBlacklisted >= 2, 'stats() counts them');
  }
});

test.run();
