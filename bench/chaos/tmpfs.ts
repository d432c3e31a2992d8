/**
 * A small tmpfs for the full-disk faults (root only): `mountSmall(dir, bytes)` mounts one on an
 * empty dir, `unmount` takes it away (lazily, so a process still holding a file cannot keep it).
 * Mounted dirs are remembered so the campaign's cleanup unmounts them on failure or Ctrl-C.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';

const mounted = new Set<string>();

export function canMount(): boolean {
  return process.getuid?.() === 0;
}

export function mountSmall(dir: string, sizeBytes: number): void {
  mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes},mode=0755`, 'tmpfs', dir], { stdio: 'ignore' });
  mounted.add(dir);
}

export function unmount(dir: string): void {
  if (!mounted.has(dir)) return;
  try {
    execFileSync('umount', ['-l', dir], { stdio: 'ignore' });
  } catch {
    // already gone
  }
  mounted.delete(dir);
}

export function unmountAll(): void {
  for (const dir of [...mounted]) unmount(dir);
}
