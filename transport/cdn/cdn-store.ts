/**
 * The supernode's cache on disk: `<home>/cdn/<taskId>/` holds one file per piece
 * (`<index>.piece`) and `meta.json` with the source's validators, the piece plan and the size and
 * SHA-256 recorded for every piece when it was fetched.
 *
 * Paths come only from a taskId that passed `isTaskId` (64 hex chars) and a whole piece index, so
 * nothing a peer sends can name a file outside a task's directory. Writes go to a temporary
 * name and are renamed into place, so a crash leaves either a whole piece or none; `meta.json`
 * is the record of which pieces are good, and every piece is re-verified against it before it is
 * trusted again: fully after a restart, and before serving unless the file is provably the one
 * verified before (see `verified`).
 *
 * Bounded: the cache stays under its limit (`limit`, default: fill the filesystem to at most 90 %)
 * by evicting whole tasks, least recently used first, through a DiskBudget. A task is pinned —
 * never evicted — while one of its files is being written or read here, while someone holds a
 * `pin()` on it, and while `isPinned(taskId)` says the supernode still needs it. Evicted tasks
 * are reported to `onEvicted` as their removal starts, so the supernode unlists them first (a cache
 * that silently lost a task would still be offered to peers). Piece writes reserve their bytes first, so the cache makes
 * room before it writes (a rewritten `meta.json` is counted whole each time, so the count errs high
 * until the next listing); a spool file (a source of unknown length) is counted at the next listing.
 */
import { createHash } from 'node:crypto';
import { chmod, mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_DISK_LIMIT, type DiskLimit, type EvictionEntry } from '../../core/eviction.ts';
import { DiskBudget, type DiskBudgetOptions, type PassResult } from '../disk-budget.ts';
import { sha256Of } from '../hash-worker.ts';
import { isTaskId } from '../task-id.ts';

export interface PieceRecord { sizeBytes: number; digest: string }

export interface CacheMeta {
  /** The source URL with any credentials replaced (redact.ts): a URL's password is never stored. */
  url: string;
  etag?: string;
  lastModified?: string;
  /** Whether the source answered a byte range with 206 (pieces can be fetched one by one). */
  acceptRanges: boolean;
  totalBytes: number;
  pieceSizeBytes: number;
  pieceCount: number;
  /** The piece-size setting the plan was made with (0 = the seed's rule). */
  pieceSizeSetting: number;
  pieces: (PieceRecord | null)[];
  fileDigest?: string;
  complete: boolean;
}

function signature(stats: { ino: number; size: number; mtimeMs: number }, record: PieceRecord): string {
  return `${stats.ino}:${stats.size}:${stats.mtimeMs}:${record.digest}`;
}

/** The listing's entry for writes in progress (not a taskId, so never evicted or reported). */
const WRITING_KEY = 'writes in progress';

/** Pieces whose verification is remembered; past this the memory is dropped and pieces re-hashed. */
const VERIFIED_LIMIT = 1_000_000;

export interface CdnStoreOptions extends Pick<DiskBudgetOptions, 'lowWatermarkRatio' | 'nowEpochMs' | 'filesystemStats' | 'log'> {
  /** Size limit of the cache (`--cache-max`); default: fill the filesystem to at most 90 %. */
  limit?: DiskLimit;
  /**
   * Tasks the supernode still needs whole: never evicted. The supernode should answer true while
   * the core's task is fetching or revalidating, or has a registered peer that is not complete.
   */
  isPinned?: (taskId: string) => boolean;
  /**
   * A task being removed to stay under the limit. Called synchronously right after the pin
   * check and before its files go, so the supernode forgets the task (core `cdn-evicted`, and
   * the CDN's generation bumped as for `cdn-drop`) before any peer can register for it again;
   * the next register fetches it anew.
   */
  onEvicted?: (taskIds: string[]) => void;
}

export class CdnStore {
  /**
   * taskId → piece → signature (inode, size, mtime, digest) of a piece file whose bytes were last
   * seen to match its digest. Hashing every piece on every serve cost ~11 ms per 4 MiB (more than
   * sending it); a file that is replaced, rewritten or truncated changes its signature and is
   * hashed again, one that is deleted fails to open. Only a change that keeps inode, size and
   * mtime (bit rot) goes unseen here — and the receiving peer still verifies every piece.
   */
  private readonly verified = new Map<string, Map<number, string>>();
  private verifiedCount = 0;
  /** taskId -> reads, writes and holders using the task now. */
  private readonly pins = new Map<string, number>();
  /** taskId -> last read or write by this process (epoch ms); file times cover earlier runs. */
  private readonly lastUsedMs = new Map<string, number>();
  /** Bytes reserved by piece writes still in progress. */
  private writingBytes = 0;
  /**
   * While a listing runs: the bytes of every write in progress at any moment of it. A listing may
   * miss such a file (its directory read before the rename), so it counts them as one pinned
   * entry; one it did see is then counted twice, erring high until the next listing.
   */
  private listingWrites: number | null = null;
  /**
   * Task directories made (or found) by this process: a piece write makes its directory once, not
   * per piece. One removed behind the store's back is made again when a write into it fails.
   */
  private readonly madeDirs = new Set<string>();
  /** Evictions in progress: a writer waits for them, so it never writes into a directory being removed. */
  private readonly evicting = new Map<string, Promise<void>>();
  readonly budget: DiskBudget;

  constructor(readonly rootDir: string, private readonly opts: CdnStoreOptions = {}) {
    this.budget = new DiskBudget({ listEntries: () => this.listEntries(), removeEntry: (taskId) => this.evict(taskId) }, {
      dir: rootDir, limit: opts.limit ?? DEFAULT_DISK_LIMIT, ...pick(opts),
    });
  }

  /** Keep the task on disk until the returned release is called (e.g. while a peer downloads it). */
  pin(taskId: string): () => void {
    this.pins.set(taskId, (this.pins.get(taskId) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.pins.get(taskId) ?? 1) - 1;
      if (left > 0) this.pins.set(taskId, left);
      else this.pins.delete(taskId);
      this.lastUsedMs.set(taskId, this.now());
    };
  }

  /** A full eviction pass now (at start-up, or after files were written around the store). */
  enforceLimit(): Promise<PassResult> {
    return this.budget.enforce();
  }

  dirOf(taskId: string): string {
    if (!isTaskId(taskId)) throw new Error(`refusing a cache path for a malformed taskId ${JSON.stringify(taskId).slice(0, 80)}`);
    return join(this.rootDir, taskId);
  }

  piecePath(taskId: string, piece: number): string {
    if (!Number.isSafeInteger(piece) || piece < 0) throw new Error(`piece index must be a whole number, got ${piece}`);
    return join(this.dirOf(taskId), `${piece}.piece`);
  }

  async loadMeta(taskId: string): Promise<CacheMeta | null> {
    let text: string;
    try {
      text = await readFile(join(this.dirOf(taskId), 'meta.json'), 'utf8');
    } catch {
      return null;
    }
    try {
      const meta = JSON.parse(text) as CacheMeta;
      const shapeOk = typeof meta.url === 'string' && Number.isSafeInteger(meta.totalBytes)
        && Number.isSafeInteger(meta.pieceSizeBytes) && Array.isArray(meta.pieces) && meta.pieces.length === meta.pieceCount;
      return shapeOk ? meta : null;
    } catch {
      return null;
    }
  }

  async saveMeta(taskId: string, meta: CacheMeta): Promise<void> {
    const dir = this.dirOf(taskId);
    const text = JSON.stringify(meta);
    await this.using(taskId, async () => {
      await mkdir(dir, { recursive: true });
      // Counted as written: its temporary copy sits beside the old meta until the rename.
      await this.budget.reserve(Buffer.byteLength(text));
      const tmp = join(dir, 'meta.json.tmp');
      // Owner-only: the meta names the source, and the cache is nobody else's business.
      await writeFile(tmp, text, { mode: 0o600 });
      await chmod(tmp, 0o600);
      await rename(tmp, join(dir, 'meta.json'));
    });
  }

  /** Store a piece (making room under the limit first) and return what was recorded for it. */
  async writePiece(taskId: string, piece: number, bytes: Uint8Array): Promise<PieceRecord> {
    const path = this.piecePath(taskId, piece);
    return this.using(taskId, async () => {
      await this.makeDir(taskId);
      await this.budget.reserve(bytes.length);
      this.writingBytes += bytes.length;
      if (this.listingWrites !== null) this.listingWrites += bytes.length;
      let digest: string;
      try {
        // The digest is computed (on the hash worker, for shared memory) while the bytes are written.
        [digest] = await Promise.all([sha256Of(bytes), this.writeInDir(taskId, `${path}.tmp`, bytes)]);
        await rename(`${path}.tmp`, path);
      } finally {
        this.writingBytes -= bytes.length;
      }
      const record = { sizeBytes: bytes.length, digest };
      this.remember(taskId, piece, signature(await stat(path), record));
      return record;
    });
  }

  private async makeDir(taskId: string): Promise<void> {
    if (this.madeDirs.has(taskId)) return;
    await mkdir(this.dirOf(taskId), { recursive: true });
    this.madeDirs.add(taskId);
  }

  /** Write a new file in the task's directory, making the directory again if it was removed. */
  private async writeInDir(taskId: string, path: string, bytes: Uint8Array): Promise<void> {
    try {
      await writeFile(path, bytes);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      this.madeDirs.delete(taskId);
      await this.makeDir(taskId);
      await writeFile(path, bytes);
    }
  }

  /** The piece's bytes if they still match the record; null when missing, short, long or corrupt. */
  async readVerified(taskId: string, piece: number, record: PieceRecord): Promise<Buffer | null> {
    const bytes = Buffer.allocUnsafe(record.sizeBytes);
    return (await this.readVerifiedInto(taskId, piece, record, bytes)) ? bytes : null;
  }

  /**
   * Read a piece into `target` (exactly record.sizeBytes long) and check it against the record;
   * false when the file is missing, of another size, or its digest differs. `rehash` ignores the
   * memory of an earlier check and hashes the bytes again (peers reported them corrupt).
   */
  async readVerifiedInto(taskId: string, piece: number, record: PieceRecord, target: Buffer, rehash = false): Promise<boolean> {
    const path = this.piecePath(taskId, piece);
    if (rehash) this.verified.get(taskId)?.delete(piece);
    return this.using(taskId, () => this.readAndCheck(taskId, piece, path, record, target));
  }

  private async readAndCheck(taskId: string, piece: number, path: string, record: PieceRecord, target: Buffer): Promise<boolean> {
    let handle;
    try {
      handle = await open(path, 'r');
    } catch {
      return false;
    }
    let fileSignature: string;
    try {
      const stats = await handle.stat();
      if (stats.size !== record.sizeBytes) return false;
      fileSignature = signature(stats, record);
      let done = 0;
      while (done < target.length) {
        const { bytesRead } = await handle.read(target, done, target.length - done, done);
        if (bytesRead === 0) return false;
        done += bytesRead;
      }
    } catch {
      return false;
    } finally {
      await handle.close();
    }
    if (this.verified.get(taskId)?.get(piece) === fileSignature) return true;
    if (await sha256Of(target) !== record.digest) {
      this.verified.get(taskId)?.delete(piece);
      return false;
    }
    this.remember(taskId, piece, fileSignature);
    return true;
  }

  private remember(taskId: string, piece: number, fileSignature: string): void {
    if (this.verifiedCount >= VERIFIED_LIMIT) {
      this.verified.clear();
      this.verifiedCount = 0;
    }
    let pieces = this.verified.get(taskId);
    if (!pieces) this.verified.set(taskId, pieces = new Map());
    if (!pieces.has(piece)) this.verifiedCount++;
    pieces.set(piece, fileSignature);
  }

  /** Indices of the recorded pieces that are still intact on disk (unrecorded ones are dropped). */
  async intactPieces(taskId: string, meta: CacheMeta): Promise<number[]> {
    const intact: number[] = [];
    for (let piece = 0; piece < meta.pieceCount; piece++) {
      const record = meta.pieces[piece];
      if (record && (await this.readVerified(taskId, piece, record))) intact.push(piece);
      else meta.pieces[piece] = null;
    }
    if (intact.length < meta.pieceCount) meta.complete = false;
    return intact;
  }

  /** Read a piece file into `target` (exactly the piece's size), unverified. */
  async readPieceInto(taskId: string, piece: number, target: Buffer): Promise<void> {
    const path = this.piecePath(taskId, piece);
    await this.using(taskId, async () => {
      const handle = await open(path, 'r');
      try {
        let done = 0;
        while (done < target.length) {
          const { bytesRead } = await handle.read(target, done, target.length - done, done);
          if (bytesRead === 0) throw new Error(`cached piece ${piece} of task ${taskId} is shorter than recorded`);
          done += bytesRead;
        }
      } finally {
        await handle.close();
      }
    });
  }

  /** Read [startByte, endByte) of a spooled file (unknown-length sources are split after the fact). */
  async readRange(path: string, startByte: number, endByte: number): Promise<Buffer> {
    const handle = await open(path, 'r');
    try {
      const bytes = Buffer.alloc(endByte - startByte);
      let done = 0;
      while (done < bytes.length) {
        const { bytesRead } = await handle.read(bytes, done, bytes.length - done, startByte + done);
        if (bytesRead === 0) throw new Error(`spool file ${path} ended at ${startByte + done}, expected ${endByte}`);
        done += bytesRead;
      }
      return bytes;
    } finally {
      await handle.close();
    }
  }

  spoolPath(taskId: string): string {
    return join(this.dirOf(taskId), 'body.spool');
  }

  async remove(taskId: string): Promise<void> {
    this.verifiedCount -= this.verified.get(taskId)?.size ?? 0;
    this.verified.delete(taskId);
    this.lastUsedMs.delete(taskId);
    this.madeDirs.delete(taskId);
    await rm(this.dirOf(taskId), { recursive: true, force: true });
  }

  // ---- eviction ----

  private isPinned(taskId: string): boolean {
    return this.pins.has(taskId) || (this.opts.isPinned?.(taskId) ?? false);
  }

  /** Run `work` with the task pinned, after any eviction of it has finished. */
  private async using<T>(taskId: string, work: () => Promise<T>): Promise<T> {
    for (let removal = this.evicting.get(taskId); removal; removal = this.evicting.get(taskId)) await removal;
    const release = this.pin(taskId);
    try {
      return await work();
    } finally {
      release();
    }
  }

  /** Remove a task the plan chose, unless it was pinned since the listing (checked without yielding). */
  private async evict(taskId: string): Promise<boolean> {
    if (this.isPinned(taskId) || this.evicting.has(taskId)) return false;
    this.opts.onEvicted?.([taskId]);
    const removal = this.remove(taskId).finally(() => this.evicting.delete(taskId));
    this.evicting.set(taskId, removal);
    await removal;
    return true;
  }

  /** One entry per task directory: total size, and last use from this process or the newest file. */
  private async listEntries(): Promise<EvictionEntry[]> {
    this.listingWrites = this.writingBytes;
    try {
      return await this.listTasks();
    } finally {
      this.listingWrites = null;
    }
  }

  private async listTasks(): Promise<EvictionEntry[]> {
    const names = await readdir(this.rootDir).catch(() => [] as string[]);
    const entries: EvictionEntry[] = [];
    for (const taskId of names.filter(isTaskId)) {
      const dir = join(this.rootDir, taskId);
      const files = await readdir(dir).catch(() => null);
      if (files === null) continue;
      let sizeBytes = 0;
      let newestMs = 0;
      for (const file of files) {
        const stats = await stat(join(dir, file)).catch(() => null);
        if (!stats?.isFile()) continue;
        sizeBytes += stats.size;
        newestMs = Math.max(newestMs, stats.mtimeMs);
      }
      entries.push({ key: taskId, sizeBytes, lastUsedMs: Math.max(newestMs, this.lastUsedMs.get(taskId) ?? 0), pinned: this.isPinned(taskId) });
    }
    const writes = this.listingWrites ?? 0;
    if (writes > 0) entries.push({ key: WRITING_KEY, sizeBytes: writes, lastUsedMs: this.now(), pinned: true });
    // Forget last-use times of tasks no longer on disk, so the map stays as small as the cache.
    const onDisk = new Set(entries.map((e) => e.key));
    for (const taskId of this.lastUsedMs.keys()) if (!onDisk.has(taskId) && !this.pins.has(taskId)) this.lastUsedMs.delete(taskId);
    return entries;
  }

  private now(): number {
    return (this.opts.nowEpochMs ?? Date.now)();
  }
}

function pick(opts: CdnStoreOptions): Partial<DiskBudgetOptions> {
  const { lowWatermarkRatio, nowEpochMs, filesystemStats, log } = opts;
  return {
    ...(lowWatermarkRatio !== undefined && { lowWatermarkRatio }), ...(nowEpochMs && { nowEpochMs }),
    ...(filesystemStats && { filesystemStats }), ...(log && { log }),
  };
}
