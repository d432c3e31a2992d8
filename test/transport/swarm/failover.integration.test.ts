/**
 * Failover: dfget is given two supernodes; the first is killed with SIGKILL mid-download. Every
 * dfget migrates to the second, carrying the pieces it has, and finishes with exact bytes.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Swarm, waitFor } from './harness.ts';

const FILE_BYTES = 32 * 1024 * 1024;
const HOSTS = 3;

test('first supernode killed mid-download: every dfget completes through the second', async () => {
  await Swarm.run(async (swarm) => {
    const url = await swarm.serveRandom('/failover.bin', FILE_BYTES);
    const first = await swarm.startSupernode();
    const second = await swarm.startSupernode();
    const homes = Array.from({ length: HOSTS }, (_, i) => swarm.newHome(`host${i}`));
    const runs = await Promise.all(homes.map((home) => swarm.dfget(home, url, [first.addr, second.addr], ['--locallimit', '4M'])));
    await waitFor(() => homes.some((home) => swarm.verifiedPiecesIn(home) >= 2), 40_000, 'a host with two verified pieces');
    const before = homes.map((home) => swarm.verifiedPiecesIn(home));
    await first.kill9();
    const results = await Promise.all(runs.map((r) => r.result));
    for (const run of runs) assert.is(await swarm.fileDigest(run.output), swarm.contentDigest, `${run.output} has the source's bytes`);
    const migrated = homes.filter((home) => swarm.logOf(home).includes(`moving to ${second.addr}`)).length;
    const fellBack = results.filter((r) => r.fromSourceBytes > 0).length;
    console.log(`  pieces on disk when the first supernode died: ${before.join(', ')}; ${migrated}/${HOSTS} hosts moved to the second; `
      + `${fellBack} fell back to the source; times ${results.map((r) => r.elapsedMs).join(', ')} ms`);
    assert.is(migrated, HOSTS, 'every host moved to the second supernode');
  });
});

test.run();
