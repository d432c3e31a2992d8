/**
 * dfdaemon's local repository (`--localrepo`): finished blobs under `sha256/<hex>`, named by
 * digest, and downloads in progress under `tmp/`. A blob enters `sha256/` only by a rename after
 * its whole-file digest checked out, so the repo never holds a corrupt or partial blob under a
 * digest name; a reader that finds a mismatch anyway (disk trouble) deletes the file.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';

const SHA256_DIGEST = /^sha256:([0-9a-f]{64})$/;

export class LocalRepo {
  constructor(readonly dir: string) {}

  /** Create the layout and drop leftovers of downloads a previous run did not finish. */
  async open(): Promise<void> {
    await fs.mkdir(join(this.dir, 'sha256'), { recursive: true });
    await fs.rm(join(this.dir, 'tmp'), { recursive: true, force: true });
    await fs.mkdir(join(this.dir, 'tmp'), { recursive: true });
  }

  blobPath(digest: string): string {
    const match = SHA256_DIGEST.exec(digest);
    if (!match) throw new Error(`not a sha256 digest: ${digest.slice(0, 80)}`);
    return join(this.dir, 'sha256', match[1]);
  }

  /** Size of the stored blob, or null when it is not here. */
  async storedSize(digest: string): Promise<number | null> {
    try {
      const stat = await fs.stat(this.blobPath(digest));
      return stat.isFile() ? stat.size : null;
    } catch {
      return null;
    }
  }

  /** A fresh path for a download in progress. */
  tempPath(digest: string): string {
    const hex = SHA256_DIGEST.exec(digest)?.[1] ?? 'blob';
    return join(this.dir, 'tmp', `${hex}.${randomBytes(6).toString('hex')}`);
  }

  /** Move a verified download into place (atomic: readers see the old state or the whole blob). */
  async promote(tempPath: string, digest: string): Promise<void> {
    await fs.rename(tempPath, this.blobPath(digest));
  }

  async discard(path: string): Promise<void> {
    await fs.rm(path, { force: true });
  }
}
