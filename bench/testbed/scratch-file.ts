/**
 * Equal footing for every client a benchmark compares: just before a measured download, write and
 * delete a scratch file as large as what the download will write, on the same filesystem.
 *
 * Why. On the development machine (ext4 on a VM's virtio disk) writing a new 1 GiB file costs
 * 1.4–2.4 s of system CPU, except right after about as many bytes of another file were deleted:
 * then 0.47–0.55 s. Freeing the same amount of anonymous memory (0.73–1.59 s) or of a tmpfs file
 * (1.03–2.10 s) does not do it (`dd if=/dev/zero of=F bs=16M count=64` timed with /usr/bin/time,
 * each after a four-second pause, 2026-12-01). So what a download's writes cost depends on what
 * the benchmark deleted just before it, not on the software: in `bench:transport` curl ran right
 * after the previous round's files were removed, while dfget's warm run followed its cold run,
 * whose output it had kept (hard-linked as the uploader's backup), so nothing was freed. With a
 * scratch file before every client (`npm run bench:transport -- --rounds 3`, medians), warm dfget
 * took 2.17 s against curl's 2.14 s (CPU 2.88 and 1.45 s per GiB); with `--no-scratch-before`,
 * 3.40 s against 2.50 s (4.84 and 1.83 s per GiB).
 *
 * On a machine without the effect this costs the time to write the scratch file and changes
 * nothing else. Most of the scratch file never reaches the disk: it is deleted while its pages are
 * still dirty (one larger than the kernel's dirty_background threshold starts some writeback).
 */
import { closeSync, openSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { join } from 'node:path';

const CHUNK_BYTES = 16 * 2 ** 20;

/**
 * Write `bytes` of zeros to a scratch file in `dir`, then delete it; the bytes written (0 when the
 * filesystem has less than twice that free: the download after it needs the room).
 */
export function writeAndDeleteScratch(dir: string, bytes: number): number {
  const { bavail, bsize } = statfsSync(dir);
  if (bavail * bsize < 2 * bytes) return 0;
  const path = join(dir, `scratch-${process.pid}.bin`);
  const chunk = Buffer.alloc(CHUNK_BYTES);
  const fd = openSync(path, 'w');
  try {
    for (let written = 0; written < bytes;) written += writeSync(fd, chunk, 0, Math.min(CHUNK_BYTES, bytes - written));
  } finally {
    closeSync(fd);
    rmSync(path, { force: true });
  }
  return bytes;
}
