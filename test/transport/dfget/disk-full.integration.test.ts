/**
 * A dfget whose `--home` fills up exits with the code `--help` gives for disk full (7), says the
 * disk is full, and removes its partial data file, so it does not leave the disk 100 % full. The
 * home is a 6 MiB tmpfs the test mounts (root only; skipped with the reason otherwise).
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { freeBytes, mountSmallDisk, unmountSmallDisk } from '../../../bench/testbed/small-disk.ts';
import { stopUploaderOf } from '../../../bench/testbed/stop-uploader.ts';
import { EXIT_CODES } from '../../../transport/dfget/download-error.ts';
import { Swarm } from '../swarm/harness.ts';

const DISK_BYTES = 6 * 1024 * 1024;
const FILE_BYTES = 16 * 1024 * 1024;

async function onSmallHome(swarm: Swarm, name: string, body: (home: string) => Promise<void>, diskBytes = DISK_BYTES): Promise<void> {
  const home = join(swarm.root, name);
  const problem = await mountSmallDisk(home, diskBytes);
  if (problem) {
    console.log(`  SKIPPED: ${problem}`);
    return;
  }
  try {
    await body(home);
  } finally {
    await stopUploaderOf(home);
    await unmountSmallDisk(home);
  }
}

for (const pattern of ['p2p', 'source'] as const) {
  test(`--pattern ${pattern}: a home that fills up exits ${EXIT_CODES.io} and leaves no partial file`, async () => {
    await Swarm.run(async (swarm) => {
      const url = await swarm.serveRandom('/big.bin', FILE_BYTES);
      const supernode = await swarm.startSupernode(['--piece-size-bytes', '1MiB']);
      await onSmallHome(swarm, `small-${pattern}`, async (home) => {
        const run = await swarm.dfget(home, url, [supernode.addr], ['--pattern', pattern, '--output', join(swarm.root, `out-${pattern}.bin`),
          '--locallimit', '0', '--uploader-idle-exit', '5s']);
        const exit = await run.proc.exited;
        assert.is(exit.code, EXIT_CODES.io, run.proc.stderr);
        assert.match(run.proc.stderr, /no space left|disk .*full/i);
        const left = readdirSync(join(home, 'data')).filter((name) => !name.startsWith('.'));
        assert.equal(left, [], 'the partial data file and its meta are gone');
        assert.ok(freeBytes(home) > DISK_BYTES / 2, `only ${freeBytes(home)} bytes free on the home afterwards`);
      });
    });
  });
}

test('room for the download only: the seeding backup is a link to the output, costs no space, and the host seeds it', async () => {
  await Swarm.run(async (swarm) => {
    const url = await swarm.serveRandom('/big.bin', FILE_BYTES);
    const supernode = await swarm.startSupernode(['--piece-size-bytes', '1MiB']);
    await onSmallHome(swarm, 'fits-once', async (home) => {
      // The output on the same small disk: a copy of it could not fit beside it.
      const run = await swarm.dfget(home, url, [supernode.addr], ['--output', join(home, 'out.bin'), '--locallimit', '0',
        '--uploader-idle-exit', '5s']);
      const { taskId } = await run.result;
      assert.is(await swarm.fileDigest(join(home, 'out.bin')), swarm.contentDigest);
      assert.not.match(swarm.logOf(home), 'no space', swarm.logOf(home));
      assert.is(statSync(join(home, 'data', `${taskId}.server`)).ino, statSync(join(home, 'out.bin')).ino, 'the backup is the output under a second name');
      const other = await swarm.dfget(swarm.newHome('other'), url, [supernode.addr], ['--locallimit', '0']);
      const result = await other.result;
      assert.is(await swarm.fileDigest(other.output), swarm.contentDigest);
      assert.ok(result.fromPeersBytes > 0, 'the other host took pieces from the small home');
    }, FILE_BYTES + FILE_BYTES / 2);
  });
});

test.run();
