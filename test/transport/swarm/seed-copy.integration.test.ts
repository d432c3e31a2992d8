/**
 * The `.server` copy a finished host seeds from is its own, not a second name of the user's
 * `--output`: a user who edits the output in place changes nothing other hosts receive, so an
 * honest host is never served up as a corrupt one (and blacklisted) for its user's edits.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Swarm, sha256 } from './harness.ts';

const FILE_BYTES = 8 * 1024 * 1024;

test('editing the output in place does not change what the host seeds', async () => {
  await Swarm.run(async (swarm) => {
    const url = await swarm.serveRandom('/edited.bin', FILE_BYTES);
    const supernode = await swarm.startSupernode(['--piece-size-bytes', '1MiB']);
    const homeA = swarm.newHome('hostA');
    const first = await swarm.dfget(homeA, url, [supernode.addr], ['--locallimit', '0']);
    const { taskId } = await first.result;
    const serverPath = join(homeA, 'data', `${taskId}.server`);
    const output = await fs.open(first.output, 'r+');
    try {
      for (let at = 0; at < FILE_BYTES; at += 1024 * 1024) await output.write(Buffer.alloc(4096, 0x55), 0, 4096, at);
    } finally {
      await output.close();
    }
    assert.is(sha256(await fs.readFile(serverPath)), swarm.contentDigest, 'the .server copy still holds the downloaded bytes');

    const second = await swarm.dfget(swarm.newHome('hostB'), url, [supernode.addr], ['--locallimit', '0']);
    const result = await second.result;
    assert.is(await swarm.fileDigest(second.output), swarm.contentDigest);
    assert.ok(result.fromPeersBytes > 0, 'B took pieces from A');
    assert.not.match(swarm.logOf(second.home), 'failed verification', 'A served no bad piece');
  });
});

test.run();
