/**
 * Bytes of every regular file under a directory, recursively (what a store really holds on disk):
 * a file with several names (hard links, as a `.server` backup beside its data file) counts once.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export function dirSizeBytes(dir: string, inodes = new Set<string>()): number {
  let total = 0;
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += dirSizeBytes(path, inodes);
    // A file removed between the listing and its stat (a store evicting while sampled) holds nothing.
    else if (entry.isFile()) {
      const stat = statSync(path, { throwIfNoEntry: false });
      if (stat && !inodes.has(`${stat.dev}:${stat.ino}`)) total += stat.size;
      if (stat) inodes.add(`${stat.dev}:${stat.ino}`);
    }
  }
  return total;
}
