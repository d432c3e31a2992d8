/**
 * A long-lived process that hosts its home's uploader (dfdaemon does) and downloads through the
 * in-process `download()` keeps seeding what it downloaded: after the download's own supernode
 * connection closed, a second host gets pieces from that uploader.
 */
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { download, startUploader, type DownloadRequest } from '../../../transport/dfget/download.ts';
import { Swarm, waitFor } from '../swarm/harness.ts';

const FILE_BYTES = 6 * 1024 * 1024;

test('an in-process download is seeded by the uploader its process hosts', async () => {
  await Swarm.run(async (swarm) => {
    const home = swarm.newHome('daemon');
    const uploader = await startUploader({ homeDir: home, host: '127.0.0.1', port: 0, idleExitMs: 0 });
    const other = swarm.newHome('other');
    const otherUploader = await startUploader({ homeDir: other, host: '127.0.0.1', port: 0, idleExitMs: 0 });
    try {
      const url = await swarm.serveRandom('/layer.bin', FILE_BYTES);
      const supernode = await swarm.startSupernode();
      const request: Omit<DownloadRequest, 'outputPath' | 'homeDir'> = {
        url, headers: {}, supernodes: [supernode.addr], localLimitBytesPerSec: 0, totalLimitBytesPerSec: 0, pattern: 'p2p', backToSource: false, timeoutMs: 20_000,
      };
      const result = await download({ ...request, outputPath: join(home, 'layer.bin'), homeDir: home });
      assert.is(result.fileDigest, swarm.contentDigest);
      await waitFor(() => uploader.stats().seededTasks === 1, 5000, 'the hosted uploader to seed the task');
      const servedBefore = uploader.stats().servedPieces;
      const second = await download({ ...request, outputPath: join(other, 'layer.bin'), homeDir: other });
      assert.is(second.fileDigest, swarm.contentDigest);
      console.log(`  second host: ${second.fromPeersBytes} of ${second.totalBytes} bytes from the first host's uploader`);
      assert.ok(second.fromPeersBytes > 0 && uploader.stats().servedPieces > servedBefore, 'the second host got nothing from the seeding uploader');
    } finally {
      await otherUploader.close();
      await uploader.close();
    }
  });
});

test.run();
