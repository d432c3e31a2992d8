/**
 * The `.server` backup a finished host seeds from is a second name (hard link) of the user's
 * `--output` — no byte is copied — and the uploader serves it only while the output is as it was
 * downloaded: a user who edits the output in place stops the host seeding it, so an honest host
 * is never served up as a corrupt one (and blacklisted) for its user's edits. A backup removed
 * behind the uploader's back (both names deleted) stops the host seeding it at the first request,
 * and an uploader whose whole home was removed exits then.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Swarm } from './harness.ts';
import { pidAlive, readLock } from '../../../transport/uploader/uploader-lock.ts';
import { waitFor } from '../../../bench/testbed/processes.ts';

const FILE_BYTES = 8 * 1024 * 1024;

/** An origin serving `path`, a supernode, and host A that has downloaded it and seeds it. */
async function hostAHasIt(swarm: Swarm, path: string) {
  const url = await swarm.serveRandom(path, FILE_BYTES);
  const supernode = await swarm.startSupernode(['--piece-size-bytes', '1MiB']);
  const homeA = swarm.newHome('hostA');
  const first = await swarm.dfget(homeA, url, [supernode.addr], ['--locallimit', '0']);
  const { taskId } = await first.result;
  return { url, supernode, homeA, first, taskId };
}

test('the backup is a link to the output; editing the output stops the host seeding it, and no edited byte is served', async () => {
  await Swarm.run(async (swarm) => {
    const { url, supernode, homeA, first, taskId } = await hostAHasIt(swarm, '/edited.bin');
    const serverPath = join(homeA, 'data', `${taskId}.server`);
    const [server, output] = await Promise.all([fs.stat(serverPath), fs.stat(first.output)]);
    assert.is(server.ino, output.ino, 'the backup is the output under a second name');

    const handle = await fs.open(first.output, 'r+');
    try {
      for (let at = 0; at < FILE_BYTES; at += 1024 * 1024) await handle.write(Buffer.alloc(4096, 0x55), 0, 4096, at);
    } finally {
      await handle.close();
    }

    const second = await swarm.dfget(swarm.newHome('hostB'), url, [supernode.addr], ['--locallimit', '0']);
    await second.result;
    assert.is(await swarm.fileDigest(second.output), swarm.contentDigest);
    assert.not.match(swarm.logOf(second.home), 'failed verification', 'A served no edited piece');
    assert.match(swarm.logOf(homeA), `the output was edited: no longer seeding ${taskId}`, 'A noticed the edit when B asked');
    assert.is(await fs.stat(serverPath).then(() => 'present', () => 'gone'), 'gone', 'the backup name is gone');
    assert.is((await fs.stat(first.output)).size, FILE_BYTES, 'the user\'s output is untouched by it');
  });
});

test('a backup removed behind the uploader\'s back stops the host seeding it; the next host still gets the file', async () => {
  await Swarm.run(async (swarm) => {
    const { url, supernode, homeA, first, taskId } = await hostAHasIt(swarm, '/removed.bin');
    await fs.rm(first.output);
    await fs.rm(join(homeA, 'data', `${taskId}.server`));

    const second = await swarm.dfget(swarm.newHome('hostB'), url, [supernode.addr], ['--locallimit', '0']);
    await second.result;
    assert.is(await swarm.fileDigest(second.output), swarm.contentDigest);
    assert.match(swarm.logOf(homeA), `${taskId}.server was removed: no longer seeding ${taskId}`, 'A noticed when B asked');
  });
});

test('an uploader whose home was removed exits at the first request for what it seeded', async () => {
  await Swarm.run(async (swarm) => {
    const { url, supernode, homeA } = await hostAHasIt(swarm, '/home-removed.bin');
    const lock = await readLock(homeA);
    assert.ok(lock, 'A\'s uploader runs');
    await fs.rm(homeA, { recursive: true, force: true });

    const second = await swarm.dfget(swarm.newHome('hostB'), url, [supernode.addr], ['--locallimit', '0']);
    await second.result;
    assert.is(await swarm.fileDigest(second.output), swarm.contentDigest);
    await waitFor(() => !pidAlive(lock.pid), 10_000, 'A\'s uploader to exit');
  });
});

test.run();
