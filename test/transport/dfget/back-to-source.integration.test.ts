/**
 * Back to source after losing every supernode: a dfget that holds verified pieces fetches only the
 * pieces it lacks from the source (ranged GETs of the missing runs), checks the whole file against
 * the digest its supernode gave it, and never refetches what it already has.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Swarm, waitFor } from '../swarm/harness.ts';

const PIECE_BYTES = 1024 * 1024;
const FILE_BYTES = 16 * PIECE_BYTES;

test('the supernode dies mid-download: only the missing pieces come from the source, and the file is whole', async () => {
  await Swarm.run(async (swarm) => {
    const url = await swarm.serveRandom('/partial.bin', FILE_BYTES);
    const supernode = await swarm.startSupernode(['--piece-size-bytes', String(PIECE_BYTES)]);
    // A first host warms the CDN, so the second is told the whole file's digest at registration.
    await (await swarm.dfget(swarm.newHome('warm'), url, [supernode.addr], ['--locallimit', '0'])).result;
    const home = swarm.newHome('host');
    const run = await swarm.dfget(home, url, [supernode.addr], ['--locallimit', '2M']);
    await waitFor(() => swarm.verifiedPiecesIn(home) >= 4, 60_000, 'four verified pieces');
    await supernode.kill9();
    swarm.origin.resetStats();
    const held = swarm.verifiedPiecesIn(home);
    const result = await run.result;
    assert.is(await swarm.fileDigest(run.output), swarm.contentDigest, 'the file is whole and right');
    const sent = swarm.origin.stats.bytesSent;
    console.log(`  held ${held}/16 pieces when the supernode died; the source then sent ${sent} bytes `
      + `(${(sent / PIECE_BYTES).toFixed(2)} pieces) in ${swarm.origin.stats.rangeRequests} ranged request(s)`);
    assert.ok(result.fromSourceBytes > 0, 'it went back to the source');
    assert.ok(swarm.origin.stats.rangeRequests >= 1, 'with ranged requests');
    assert.ok(sent <= FILE_BYTES - held * PIECE_BYTES + 4 * PIECE_BYTES, `the source sent ${sent} bytes; ${held} of 16 pieces were held`);
    assert.ok(sent < FILE_BYTES, 'not the whole file');
  });
});

test.run();
