/**
 * The cold path pipelines: a dfget whose supernode has nothing cached holds verified pieces before
 * the origin has sent the whole file (each piece reaches it as soon as the CDN has it, not after
 * the CDN's whole fetch), the CDN fetches with several ranged GETs, and the file
 * still leaves the origin about once.
 *
 * The origin is capped so the CDN's fetch lasts long enough to look at it mid-way.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Swarm, waitFor } from './harness.ts';

const PIECE_BYTES = 256 * 1024;
const FILE_BYTES = 48 * PIECE_BYTES;
const ORIGIN_RATE_BYTES_PER_SEC = 2_000_000;

test('a cold dfget verifies pieces before the CDN has the whole file; ranged GETs run side by side; one copy leaves the origin', async () => {
  await Swarm.run(async (swarm) => {
    const url = await swarm.serveRandom('/cold.bin', FILE_BYTES);
    swarm.origin.setRate(ORIGIN_RATE_BYTES_PER_SEC);
    const supernode = await swarm.startSupernode(['--piece-size-bytes', String(PIECE_BYTES), '--source-fetch-concurrency', '3']);
    const home = swarm.newHome('cold');
    const run = await swarm.dfget(home, url, [supernode.addr], ['--locallimit', '0']);
    await waitFor(() => swarm.verifiedPiecesIn(home) >= 2, 20_000, 'two verified pieces');
    const sentWhenVerified = swarm.origin.bytesSentFor('/cold.bin');
    const result = await run.result;
    assert.is(await swarm.fileDigest(run.output), swarm.contentDigest);
    const ranged = swarm.origin.requestsFor('/cold.bin').filter((r) => r.method === 'GET' && r.status === 206 && r.range !== 'bytes=0-0');
    const copies = swarm.origin.bytesSentFor('/cold.bin') / FILE_BYTES;
    console.log(`  2 pieces verified with ${(sentWhenVerified / FILE_BYTES * 100).toFixed(0)}% of the file sent by the origin; ${ranged.length} ranged GETs; ${copies.toFixed(3)} copies`);
    assert.ok(sentWhenVerified < FILE_BYTES, `the origin had sent ${sentWhenVerified} of ${FILE_BYTES} bytes when dfget held 2 pieces`);
    assert.ok(ranged.length >= 3, `${ranged.length} ranged GETs (3 run at once)`);
    assert.ok(copies <= 1.05, `${copies} copies left the origin`);
    assert.is(result.fromSupernodeBytes, FILE_BYTES);
  });
});

test.run();
