/** Bytes of every regular file under a directory, recursively (what a store really holds on disk). */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export function dirSizeBytes(dir: string): number {
  let total = 0;
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += dirSizeBytes(path);
    else if (entry.isFile()) total += statSync(path).size;
  }
  return total;
}
