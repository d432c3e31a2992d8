/**
 * `mkdir -p` that always ends. Node 20's `mkdir(path, { recursive: true })` never returns for a
 * path under a pseudo-filesystem that answers ENOENT to a mkdir whose parent exists (`/proc`):
 * it retries the parent forever, and a supernode started with `--home /proc/x` spun at 100 % CPU
 * without a word. This walks up to the first directory that exists, then creates each missing
 * component once, so it makes at most one mkdir per path component and any error is thrown.
 */
import { mkdirSync, statSync, promises as fs } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** The directories to create for `dir`, outermost first (empty when it exists). */
function missingSync(dir: string): string[] {
  const missing: string[] = [];
  for (let at = resolve(dir); ; at = dirname(at)) {
    if (statSync(at, { throwIfNoEntry: false })?.isDirectory()) break;
    missing.push(at);
    if (dirname(at) === at) break;
  }
  return missing.reverse();
}

/** Create `dir` and its missing parents; throws the first error (ENOENT, EACCES, ENOTDIR, ...). */
export function makeDirsSync(dir: string): void {
  for (const path of missingSync(dir)) {
    try {
      mkdirSync(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST' && statSync(path).isDirectory()) continue;
      throw err;
    }
  }
}

/** As makeDirsSync, without blocking the event loop on the mkdirs themselves. */
export async function makeDirs(dir: string): Promise<void> {
  for (const path of missingSync(dir)) {
    try {
      await fs.mkdir(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST' && (await fs.stat(path)).isDirectory()) continue;
      throw err;
    }
  }
}
