/**
 * A peer whose uploader flips bytes (the test-only fault switch DFGET_FAULT_CORRUPT_UPLOADS=1 in
 * that host's environment): every piece it serves fails verification at the receiver, nothing
 * corrupt is written, the supernode stops sending peers to it, and every dfget completes.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Swarm, waitFor } from './harness.ts';

const FILE_BYTES = 12 * 1024 * 1024;
const PIECE_BYTES = 1024 * 1024;
const GOOD_HOSTS = 7;
const THRESHOLD = 2;

test('a corrupting peer: no bad piece written, it stops being chosen, everyone completes', async () => {
  await Swarm.run(async (swarm) => {
    const url = await swarm.serveRandom('/corrupt.bin', FILE_BYTES);
    const supernode = await swarm.startSupernode(['--global-blacklist-threshold', String(THRESHOLD), '--piece-size-bytes', String(PIECE_BYTES)]);
    const badHome = swarm.newHome('bad');
    // Slow, so it is still registered (a source) while the others download: the supernode
    // forgets a departed source's running pieces only at its sweep (see the closing note).
    const bad = await swarm.dfget(badHome, url, [supernode.addr], ['--locallimit', '512K'], { env: { DFGET_FAULT_CORRUPT_UPLOADS: '1' } });
    await waitFor(() => swarm.verifiedPiecesIn(badHome) >= 4, 40_000, 'the corrupting host to hold a third of the file');
    const badPeerId = /peer (\S+)/.exec(swarm.logOf(badHome))?.[1];
    assert.ok(badPeerId, 'the bad host logged its peer id');
    const good = await Promise.all(Array.from({ length: GOOD_HOSTS }, (_, i) => swarm.dfget(swarm.newHome(`good${i}`), url, [supernode.addr])));
    const results = await Promise.all([bad, ...good].map((r) => r.result));
    for (const run of [bad, ...good]) assert.is(await swarm.fileDigest(run.output), swarm.contentDigest, `${run.output} has the source's bytes`);

    const rejected = good.map((run) => (swarm.logOf(run.home).match(new RegExp(`from ${badPeerId} failed verification; not written`, 'g')) ?? []).length);
    const victims = rejected.filter((n) => n > 0).length;
    const total = rejected.reduce((a, b) => a + b, 0);
    console.log(`  pieces from the corrupting peer rejected per host: ${rejected.join(', ')}; `
      + `peers share ${(100 * results.reduce((s, r) => s + r.fromPeersBytes, 0) / (results.length * FILE_BYTES)).toFixed(1)}%`);
    assert.ok(total >= THRESHOLD, `the corrupting peer was chosen ${total} times; the scenario did not exercise it`);
    assert.ok(victims < GOOD_HOSTS, 'every host was sent to the corrupting peer: it was never blacklisted globally');
  });
});

test.run();
