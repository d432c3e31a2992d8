/**
 * Equal footing for every download a benchmark compares. Just before each one:
 *
 * 1. `sync`, so it does not share the disk and the CPU with the writeback of files an earlier
 *    case left dirty (a cold dfget leaves 2 GiB: the CDN's copy and its own);
 * 2. write and delete a scratch file as large as what the download will write, on the same
 *    filesystem.
 *
 * Why the scratch file. On the development machine (ext4 on a VM's virtio disk) writing a new
 * 1 GiB file costs 1.4–2.4 s of system CPU, except right after about as many bytes of another file
 * were deleted: then 0.47–0.55 s. Freeing the same amount of anonymous memory (0.73–1.59 s) or of
 * a tmpfs file (1.03–2.10 s) does not do it (`dd if=/dev/zero of=F bs=16M count=64` timed with
 * /usr/bin/time, each after a four-second pause, 2026-12-01). So what a download's writes cost
 * depends on what the benchmark deleted just before it, not on the software: in
 * `bench:transport` curl ran right after the previous round's files were removed, while dfget's
 * warm run followed its cold run, whose output it had kept (hard-linked as the uploader's backup),
 * so nothing was freed before it.
 *
 * Measured with `npm run bench:transport -- --cases one,swarm --rounds 3` (1 GiB, medians; README,
 * "Real system on loopback"): warm dfget 1.88 s against curl's 2.51 s (CPU 3.12 and 1.77 s per
 * GiB), warm rounds 1.85–1.90 s; with `--no-disk-prep`, 3.33 s against 2.49 s (5.12 and 1.71 s),
 * warm rounds 3.12–4.57 s. The scratch file alone (no sync) still left warm rounds twice as slow
 * as each other; the sync removed that spread.
 *
 * On a machine without the effect this costs the time to sync and to write the scratch file and
 * changes nothing else. Most of the scratch file never reaches the disk: it is deleted while its
 * pages are still dirty.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { join } from 'node:path';

const CHUNK_BYTES = 16 * 2 ** 20;

export interface DiskPrep {
  /** Whether `sync` ran (false where the command is missing or failed). */
  synced: boolean;
  /** Bytes of the scratch file written and deleted (0 when the filesystem has less than twice that free). */
  scratchBytes: number;
}

/** Prepare the disk for a download into `dir` that writes `bytes` (see the top of this file). */
export function prepareDiskFor(dir: string, bytes: number): DiskPrep {
  return { synced: syncAll(), scratchBytes: writeAndDeleteScratch(dir, bytes) };
}

/** Flush every dirty page of the machine to its disks (`sync`). */
function syncAll(): boolean {
  try {
    execFileSync('sync', [], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Write `bytes` of zeros to a scratch file in `dir`, then delete it; the bytes written (0 when the
 * filesystem has less than twice that free: the download after it needs the room).
 */
function writeAndDeleteScratch(dir: string, bytes: number): number {
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
