/**
 * A small filesystem of its own (tmpfs) for tests and the chaos campaign that fill a disk: a
 * dfget `--home` that runs out of space. Mounting needs root (CAP_SYS_ADMIN); without it
 * `mountSmallDisk` says why, and callers skip with that reason.
 */
import { execFile } from 'node:child_process';
import { statfsSync } from 'node:fs';
import { promisify } from 'node:util';
import { makeDirsSync } from '../../transport/make-dirs.ts';

const run = promisify(execFile);

/** Mount a tmpfs of `sizeBytes` at `dir` (created); resolves with null, or why it could not. */
export async function mountSmallDisk(dir: string, sizeBytes: number): Promise<string | null> {
  if (process.getuid?.() !== 0) return 'mounting a small filesystem needs root';
  makeDirsSync(dir);
  try {
    await run('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes},mode=0755`, 'tmpfs', dir]);
    return null;
  } catch (err) {
    return `mount -t tmpfs failed: ${(err as Error).message.split('\n')[0]}`;
  }
}

/** Unmount it (lazily: a process still holding a file there cannot keep it mounted). */
export async function unmountSmallDisk(dir: string): Promise<void> {
  await run('umount', ['-l', dir]).catch(() => undefined);
}

/** Bytes free for an unprivileged writer on the filesystem of `dir`. */
export function freeBytes(dir: string): number {
  const stats = statfsSync(dir);
  return stats.bavail * stats.bsize;
}
