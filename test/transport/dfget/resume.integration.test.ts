/**
 * Resume: a dfget killed with SIGKILL mid-download and started again with the same URL and
 * output reuses the pieces it had verified on disk and fetches only the rest.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Swarm, waitFor } from '../swarm/harness.ts';

const FILE_BYTES = 64 * 1024 * 1024;
const PIECES = 16;

test('kill -9 mid-download, rerun: completes, fetching only the missing pieces', async () => {
  await Swarm.run(async (swarm) => {
    const url = await swarm.serveRandom('/resume.bin', FILE_BYTES);
    const supernode = await swarm.startSupernode();
    const home = swarm.newHome('host');
    const slow = await swarm.dfget(home, url, [supernode.addr], ['--locallimit', '4M']);
    await waitFor(() => swarm.verifiedPiecesIn(home) >= 4, 40_000, 'four verified pieces');
    await slow.proc.kill9();
    const onDisk = swarm.verifiedPiecesIn(home);
    assert.ok(onDisk < PIECES, `the first run finished before it was killed (${onDisk} pieces)`);

    const rerun = await swarm.dfget(home, url, [supernode.addr], ['--locallimit', '0']);
    const result = await rerun.result;
    console.log(`  killed with ${onDisk}/${PIECES} pieces on disk; rerun reused ${result.resumedPieces}, fetched ${result.fetchedPieces}`);
    assert.is(await swarm.fileDigest(rerun.output), swarm.contentDigest);
    assert.ok(result.resumedPieces >= onDisk, `reused ${result.resumedPieces} of the ${onDisk} pieces on disk`);
    assert.is(result.fetchedPieces, PIECES - result.resumedPieces, 'fetched only the missing pieces');
    assert.match(swarm.logOf(home), `resuming: ${result.resumedPieces}/${PIECES} pieces verified on disk`);
  });
});

test.run();
