/**
 * Slow-fetch rescue, live (core/peer.ts, `slowFetchFactor`): a holder's uploader stops answering
 * (SIGSTOP: its sockets stay open, nothing comes back) while another host downloads from it. With
 * the rescue set on the supernode, the downloading dfget gives up on the stuck fetches once every
 * download slot holds one (or in its tail), keeps the holder off its own list and finishes from the
 * supernode, instead of waiting out `pieceTimeoutMs` for each. What is checked is behaviour: the
 * bytes, the rescue in the log, and that the frozen holder was not accused (a slow fetch asks for no
 * probe, so the supernode never puts it on the global blacklist).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readLock } from '../../../transport/uploader/uploader-lock.ts';
import { Swarm, waitFor } from './harness.ts';

const FILE_BYTES = 32 * 1024 * 1024;

test('a holder that stops answering mid-download: the downloader rescues its stuck fetches and finishes', async () => {
  await Swarm.run(async (swarm) => {
    const url = await swarm.serveRandom('/rescue.bin', FILE_BYTES);
    const sn = await swarm.startSupernode(['--piece-size-bytes', '256KiB', '--slow-fetch-factor', '3', '--slow-fetch-min-ms', '500']);
    const holderHome = swarm.newHome('holder');
    const holder = await swarm.dfget(holderHome, url, [sn.addr], ['--locallimit', '0']);
    await holder.result;
    const uploaderPid = (await readLock(holderHome))!.pid;
    const home = swarm.newHome('downloader');
    const run = await swarm.dfget(home, url, [sn.addr], ['--locallimit', '4M']);
    let frozen = false;
    try {
      await waitFor(() => /fetching piece \d+ from (?!@supernode)/.test(swarm.logOf(home)), 60_000, 'a fetch from the holder');
      process.kill(uploaderPid, 'SIGSTOP');
      frozen = true;
      const result = await run.result;
      assert.is(await swarm.fileDigest(run.output), swarm.contentDigest, 'the downloader has the source\'s bytes');
      const log = swarm.logOf(home);
      const rescued = log.match(/still running after \d+ ms, over 3x the download's pace: asking for it again elsewhere/g) ?? [];
      console.log(`  ${rescued.length} stuck fetches rescued; ${result.fromPeersBytes} bytes from the holder, ${result.fromSupernodeBytes} from the supernode`);
      assert.ok(rescued.length > 0, 'the stuck fetches were rescued, not left to the piece timeout');
      assert.ok(result.fromSupernodeBytes > 0, 'the rest came from the supernode');
      assert.not.match(sn.stdout + sn.stderr, /global blacklist/, 'a slow fetch accuses no one: the holder was not probed onto the global blacklist');
    } finally {
      if (frozen) process.kill(uploaderPid, 'SIGCONT');
    }
  });
});

test.run();
