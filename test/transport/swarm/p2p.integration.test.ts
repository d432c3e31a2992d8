/**
 * Eight real dfget processes fetch one 64 MiB file through one supernode on 127.0.0.1: every
 * output matches the source, the origin sends about one copy, and peers serve each other.
 *
 * All eight start at once, as in a rollout: every host waits at the CDN's frontier, and the
 * supernode sends at most `supernodeCopiesPerPiece` copies of a fresh piece, so the others get it
 * from the peers that have it.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Swarm } from './harness.ts';

const FILE_BYTES = 64 * 1024 * 1024;
const HOSTS = 8;

test('8 dfget share one 64 MiB file: exact bytes, about one copy from the origin, most pieces from peers', async () => {
  await Swarm.run(async (swarm) => {
    const url = await swarm.serveRandom('/blob.bin', FILE_BYTES);
    const supernode = await swarm.startSupernode();
    const homes = Array.from({ length: HOSTS }, (_, i) => swarm.newHome(`host${i}`));
    const runs = await Promise.all(homes.map((home) => swarm.dfget(home, url, [supernode.addr])));
    const results = await Promise.all(runs.map((r) => r.result));
    for (const run of runs) assert.is(await swarm.fileDigest(run.output), swarm.contentDigest, `${run.output} has the source's bytes`);
    const originBytes = swarm.origin.bytesSentFor('/blob.bin');
    const fromPeers = results.reduce((sum, r) => sum + r.fromPeersBytes, 0);
    const fromSupernode = results.reduce((sum, r) => sum + r.fromSupernodeBytes, 0);
    const peerShare = fromPeers / (fromPeers + fromSupernode);
    console.log(`  origin sent ${(originBytes / FILE_BYTES).toFixed(3)} copies; pieces from peers ${(100 * peerShare).toFixed(1)}%, `
      + `from the supernode ${(100 * (1 - peerShare)).toFixed(1)}%; slowest host ${Math.max(...results.map((r) => r.elapsedMs))} ms`);
    assert.ok(originBytes <= 1.05 * FILE_BYTES, `origin sent ${originBytes} bytes, more than 1.05 copies`);
    assert.ok(peerShare > 0.5, `only ${(100 * peerShare).toFixed(1)}% of piece bytes came from peers`);
    // The uploaders dfget started (default --log-level info) served those pieces without their per-piece debug lines.
    for (const home of homes) assert.not.match(swarm.logOf(home), / debug uploader\[/, `${home}: an uploader logged at debug`);
  });
});

test.run();
