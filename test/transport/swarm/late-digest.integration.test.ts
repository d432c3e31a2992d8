/**
 * A download that starts before the supernode's CDN has the whole file does not hash the file a
 * second time: the supernode sends the CDN's digest when the CDN finishes (core `file-digest`),
 * and dfget reports that. With `--digest`, dfget still hashes the file itself (the user's check
 * is end to end).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Swarm } from './harness.ts';

const FILE_BYTES = 8 * 1024 * 1024;

test('the CDN finishing after the plan: dfget takes its digest instead of hashing the file; --digest still hashes', async () => {
  await Swarm.run(async (swarm) => {
    const url = await swarm.serveRandom('/late.bin', FILE_BYTES);
    // The CDN reads the source at 4 MB/s: the download has its plan two seconds before the CDN is done.
    const supernode = await swarm.startSupernode(['--piece-size-bytes', '1MiB', '--limit-in', '4MB']);
    const early = await swarm.dfget(swarm.newHome('early'), url, [supernode.addr], ['--locallimit', '0']);
    const checked = await swarm.dfget(swarm.newHome('checked'), url, [supernode.addr], ['--locallimit', '0', '--digest', swarm.contentDigest]);
    const [result, checkedResult] = await Promise.all([early.result, checked.result]);
    assert.is(result.fileDigest, swarm.contentDigest);
    assert.is(await swarm.fileDigest(early.output), swarm.contentDigest);
    const log = swarm.logOf(early.home);
    assert.match(log, `file digest from the supernode's CDN: ${swarm.contentDigest}`);
    assert.match(log, `${swarm.contentDigest}, the supernode CDN's)`);
    assert.is(checkedResult.fileDigest, swarm.contentDigest);
    assert.match(swarm.logOf(checked.home), `${swarm.contentDigest}, hashed here)`);
  });
});

test.run();
