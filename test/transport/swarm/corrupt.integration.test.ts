/**
 * A peer whose uploader flips bytes (the test-only fault switch DFGET_FAULT_CORRUPT_UPLOADS=1 in
 * that host's environment): every piece it serves fails verification at the receiver, nothing
 * corrupt is written, the supernode puts it on the global blacklist, a host that comes after
 * that is never sent to it, and every dfget completes.
 *
 * The corrupting host downloads the whole file first and then seeds it (its background
 * uploader stays registered), so it is a source for every piece whatever the machine's load.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Swarm, waitFor } from './harness.ts';

const FILE_BYTES = 12 * 1024 * 1024;
const PIECE_BYTES = 1024 * 1024;
const EARLY_HOSTS = 6;
const THRESHOLD = 2;

async function globallyBlacklisted(supernodeAddr: string): Promise<number> {
  const metrics = await (await fetch(`http://${supernodeAddr}/metrics`)).text();
  return Number(/^supernode_peers_globally_blacklisted (\d+)/m.exec(metrics)?.[1] ?? NaN);
}

test('a corrupting peer: no bad piece written, it is blacklisted and no longer chosen, everyone completes', async () => {
  await Swarm.run(async (swarm) => {
    const url = await swarm.serveRandom('/corrupt.bin', FILE_BYTES);
    const supernode = await swarm.startSupernode(['--global-blacklist-threshold', String(THRESHOLD), '--piece-size-bytes', String(PIECE_BYTES)]);
    const badHome = swarm.newHome('bad');
    const bad = await swarm.dfget(badHome, url, [supernode.addr], [], { env: { DFGET_FAULT_CORRUPT_UPLOADS: '1' } });
    await bad.result;
    // Only the corrupting host serves bad bytes (as its dfget, then as its uploader's seeder, under
    // another peer id), so every rejection a good host logs is one of its pieces.
    const rejectedIn = (home: string): number => (swarm.logOf(home).match(/failed verification; not written/g) ?? []).length;

    const early = await Promise.all(Array.from({ length: EARLY_HOSTS }, (_, i) => swarm.dfget(swarm.newHome(`early${i}`), url, [supernode.addr])));
    await Promise.all(early.map((run) => run.result));
    const rejected = early.map((run) => rejectedIn(run.home));
    const total = rejected.reduce((a, b) => a + b, 0);
    console.log(`  pieces from the corrupting peer rejected per early host: ${rejected.join(', ')}`);
    assert.ok(total >= THRESHOLD, `the corrupting peer was chosen ${total} times; the scenario did not exercise it`);
    await waitFor(async () => await globallyBlacklisted(supernode.addr) === 1, 10_000, 'the supernode to blacklist the corrupting peer');

    const late = await swarm.dfget(swarm.newHome('late'), url, [supernode.addr]);
    await late.result;
    assert.is(rejectedIn(late.home), 0, 'a host arriving after the blacklisting is never sent to the corrupting peer');
    for (const run of [bad, ...early, late]) assert.is(await swarm.fileDigest(run.output), swarm.contentDigest, `${run.output} has the source's bytes`);
    assert.is(await globallyBlacklisted(supernode.addr), 1, 'only the corrupting peer is on the global blacklist');
  });
});

test.run();
