/**
 * Residual data files: per the seed, files in the data dir that have lived longer than one hour
 * are removed, except those an uploader still lists or a download still writes (their names are
 * passed in). A file's age is its last modification, so a slow download that keeps writing is
 * never collected under its own feet.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';

export const RESIDUAL_MAX_AGE_MS = 60 * 60_000;

/** Remove old files from `dataDir`; returns the names removed. Missing dir = nothing to do. */
export async function collectResidualFiles(
  dataDir: string, maxAgeMs: number, inUse: ReadonlySet<string>, nowEpochMs = Date.now(),
): Promise<string[]> {
  let names: string[];
  try {
    names = await fs.readdir(dataDir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    if (inUse.has(name) || inUse.has(taskFileOf(name))) continue;
    const path = join(dataDir, name);
    const stat = await fs.stat(path).catch(() => null);
    if (!stat || !stat.isFile() || nowEpochMs - stat.mtimeMs < maxAgeMs) continue;
    await fs.rm(path, { force: true });
    removed.push(name);
  }
  return removed;
}

/** `X.meta` belongs with data file `X`. */
function taskFileOf(name: string): string {
  return name.endsWith('.meta') ? name.slice(0, -'.meta'.length) : name;
}
