/**
 * dfdaemon's local repository (`--localrepo`): finished blobs under `sha256/<hex>`, named by
 * digest, and downloads in progress under `tmp/`. A blob enters `sha256/` only by a rename after
 * its whole-file digest checked out, so the repo never holds a corrupt or partial blob under a
 * digest name; a reader that finds a mismatch anyway (disk trouble) deletes the file.
 *
 * Bounded: the repo stays under its limit (default: fill the filesystem to at most 90 %) by
 * evicting whole blobs, least recently used first. A blob's last use is its file time, set anew
 * each time it is looked up for a client (so the order survives restarts). Downloads in `tmp/`
 * count towards the size and are never evicted; neither is a blob someone holds a `pin()` on
 * (while it is served). A pass runs when the repo opens, when a download `reserve`s room before it
 * starts, and whenever a promoted blob takes the repo past the limit. An evicted blob is simply
 * fetched again (through P2P) the next time it is asked for.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_DISK_LIMIT, type DiskLimit, type EvictionEntry } from '../../core/eviction.ts';
import { DiskBudget, type DiskBudgetOptions, type PassResult } from '../disk-budget.ts';

const SHA256_DIGEST = /^sha256:([0-9a-f]{64})$/;
const HEX = /^[0-9a-f]{64}$/;

export interface LocalRepoOptions extends Pick<DiskBudgetOptions, 'lowWatermarkRatio' | 'nowEpochMs' | 'filesystemStats' | 'log'> {
  /** Size limit of the repo (`--repo-max`); default: fill the filesystem to at most 90 %. */
  limit?: DiskLimit;
  onEvicted?: (digests: string[]) => void;
}

export class LocalRepo {
  readonly budget: DiskBudget;
  /** hex -> holders of the blob (clients being served it). */
  private readonly pins = new Map<string, number>();
  /** Bytes reserved by downloads that have not landed in `tmp/` yet (counted as one pinned entry). */
  private reservedBytes = 0;

  constructor(readonly dir: string, private readonly opts: LocalRepoOptions = {}) {
    const { limit, onEvicted, ...budgetOpts } = opts;
    this.budget = new DiskBudget({ listEntries: () => this.listEntries(), removeEntry: (key) => this.evict(key) }, {
      ...budgetOpts, dir, limit: limit ?? DEFAULT_DISK_LIMIT,
      onEvicted: (evicted) => onEvicted?.(evicted.map((e) => `sha256:${e.key}`)),
    });
  }

  /** Create the layout, drop leftovers of downloads a previous run did not finish, and get under the limit. */
  async open(): Promise<void> {
    await fs.mkdir(join(this.dir, 'sha256'), { recursive: true });
    await fs.rm(join(this.dir, 'tmp'), { recursive: true, force: true });
    await fs.mkdir(join(this.dir, 'tmp'), { recursive: true });
    await this.budget.enforce();
  }

  blobPath(digest: string): string {
    const match = SHA256_DIGEST.exec(digest);
    if (!match) throw new Error(`not a sha256 digest: ${digest.slice(0, 80)}`);
    return join(this.dir, 'sha256', match[1]);
  }

  /** Size of the stored blob, or null when it is not here. A blob found counts as used now. */
  async storedSize(digest: string): Promise<number | null> {
    const path = this.blobPath(digest);
    try {
      const stat = await fs.stat(path);
      if (!stat.isFile()) return null;
      const nowSec = this.now() / 1000;
      await fs.utimes(path, nowSec, nowSec).catch(() => undefined);
      return stat.size;
    } catch {
      return null;
    }
  }

  /** Keep the blob until the returned release is called (while a client is served from it). */
  pin(digest: string): () => void {
    const hex = SHA256_DIGEST.exec(digest)?.[1] ?? digest;
    this.pins.set(hex, (this.pins.get(hex) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.pins.get(hex) ?? 1) - 1;
      if (left > 0) this.pins.set(hex, left);
      else this.pins.delete(hex);
    };
  }

  /**
   * Make room for a download of `sizeBytes` before it starts (the size is the registry's HEAD
   * answer), so the repo stays under its limit while the download lands in `tmp/` too. The bytes
   * stay counted until the returned release is called (once the file is in `tmp/`, or given up).
   */
  async reserve(sizeBytes: number): Promise<() => void> {
    await this.budget.reserve(sizeBytes);
    this.reservedBytes += sizeBytes;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.reservedBytes -= sizeBytes;
    };
  }

  /** A fresh path for a download in progress. */
  tempPath(digest: string): string {
    const hex = SHA256_DIGEST.exec(digest)?.[1] ?? 'blob';
    return join(this.dir, 'tmp', `${hex}.${randomBytes(6).toString('hex')}`);
  }

  /** Move a verified download into place (atomic: readers see the old state or the whole blob), then keep under the limit. */
  async promote(tempPath: string, digest: string): Promise<void> {
    const path = this.blobPath(digest);
    await fs.rename(tempPath, path);
    const stat = await fs.stat(path).catch(() => null);
    if (stat) await this.budget.noteWritten(stat.size);
  }

  async discard(path: string): Promise<void> {
    await fs.rm(path, { force: true });
  }

  /** A full eviction pass now. */
  enforceLimit(): Promise<PassResult> {
    return this.budget.enforce();
  }

  private async evict(key: string): Promise<boolean> {
    if (!HEX.test(key) || this.pins.has(key)) return false;
    await fs.rm(join(this.dir, 'sha256', key), { force: true });
    return true;
  }

  /** Blobs (evictable unless pinned) and downloads in progress (always pinned). */
  private async listEntries(): Promise<EvictionEntry[]> {
    const entries: EvictionEntry[] = [];
    if (this.reservedBytes > 0) entries.push({ key: 'reserved', sizeBytes: this.reservedBytes, lastUsedMs: this.now(), pinned: true });
    for (const sub of ['sha256', 'tmp']) {
      const names = await fs.readdir(join(this.dir, sub)).catch(() => [] as string[]);
      for (const name of names) {
        const stat = await fs.stat(join(this.dir, sub, name)).catch(() => null);
        if (!stat?.isFile()) continue;
        const blob = sub === 'sha256' && HEX.test(name);
        entries.push({ key: blob ? name : `${sub}/${name}`, sizeBytes: stat.size, lastUsedMs: stat.mtimeMs, pinned: !blob || this.pins.has(name) });
      }
    }
    return entries;
  }

  private now(): number {
    return (this.opts.nowEpochMs ?? Date.now)();
  }
}
