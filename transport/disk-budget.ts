/**
 * Keeps one store on disk (the CDN cache, a home's data dir, dfdaemon's local repo) under its size
 * limit by carrying out the core's eviction plan (core/eviction.ts): list the entries, plan, remove.
 *
 * Theory of operation. The budget knows the store's size from its last full listing plus what was
 * reserved since. A store calls `reserve(bytes)` before it writes: while the total stays under
 * the high watermark that is a counter update; past it, a full pass runs first (listing, plan,
 * removals), with the incoming bytes counted as a pinned entry, so the store stays under its
 * limit instead of overshooting by a write. A store whose writes it does not see (a download
 * renamed into place) calls `noteWritten()` after they land. Passes never overlap: callers during
 * one share it. A listing older than `rescanAfterMs` is redone in the background after the next
 * write, so files removed or grown behind the store's back are accounted. For a `disk-use` limit, each pass reads the
 * filesystem's figures (statfs) anew: other data filling the disk makes the store shrink.
 */
import { statfs } from 'node:fs/promises';
import {
  DEFAULT_LOW_WATERMARK_RATIO, evictionLimits, formatDiskLimit, planEviction,
  type DiskLimit, type EvictionEntry, type EvictionLimits, type EvictionPlan, type EvictionReason,
} from '../core/eviction.ts';

export interface BudgetedStore {
  /** Every entry with its size, last use (epoch ms) and pin state, read from disk now. */
  listEntries(): Promise<EvictionEntry[]>;
  /**
   * Remove one entry the plan chose. Returns false when it became pinned since the listing
   * (then it stays); the store checks and removes without yielding in between.
   */
  removeEntry(key: string): Promise<boolean>;
}

export interface FilesystemStats { filesystemBytes: number; availableBytes: number }

export interface DiskBudgetOptions {
  /** Directory whose filesystem a `disk-use` limit refers to. */
  dir: string;
  limit: DiskLimit;
  lowWatermarkRatio?: number;
  /** Unpinned entries unused this long go regardless of size (the seed's one-hour rule). */
  maxIdleMs?: number;
  rescanAfterMs?: number;
  /** Clock of `lastUsedMs` (epoch ms, as file times are). */
  nowEpochMs?: () => number;
  /** Filesystem figures of `dir` (tests stand in a nearly full disk). */
  filesystemStats?: (dir: string) => Promise<FilesystemStats>;
  /** Told after each pass that removed something: the keys removed and why. */
  onEvicted?: (evicted: { key: string; sizeBytes: number; reason: EvictionReason }[]) => void;
  log?: (level: 'info' | 'warn', message: string) => void;
}

export interface PassResult extends EvictionPlan {
  limits: EvictionLimits;
  /** Keys the plan chose that were pinned by the time of removal (kept). */
  skipped: string[];
}

const INCOMING_KEY = '\u0000incoming';
const STUCK_RETRY_MS = 1000;

export async function filesystemStatsOf(dir: string): Promise<FilesystemStats> {
  const stats = await statfs(dir);
  return { filesystemBytes: stats.blocks * stats.bsize, availableBytes: stats.bavail * stats.bsize };
}

export class DiskBudget {
  private trackedBytes = 0;
  private highBytes = Infinity;
  private scannedAtMs = -Infinity;
  private pass: Promise<PassResult> | null = null;
  private passesRun = 0;
  /** After a pass that could not get under the limit (all pinned), the next waits until then. */
  private stuckUntilMs = -Infinity;

  constructor(private readonly store: BudgetedStore, private readonly opts: DiskBudgetOptions) {}

  get limit(): DiskLimit { return this.opts.limit; }
  /** The store's size as last known (listing + reservations since). */
  get knownBytes(): number { return this.trackedBytes; }
  get passes(): number { return this.passesRun; }

  /** Call before writing `bytes` to the store: makes room first when they would pass the limit. */
  async reserve(bytes: number): Promise<void> {
    for (;;) {
      const nowMs = this.now();
      // When pinned entries alone hold the store over its limit, a pass per write would list the
      // whole store for nothing: retry once a second until they are released.
      const over = this.trackedBytes + bytes > this.highBytes && nowMs >= this.stuckUntilMs;
      const needPass = over || this.scannedAtMs === -Infinity;
      if (needPass && this.pass) {
        // A pass already running did not count these bytes (parallel writers): wait for it,
        // then look again with what it left.
        await this.pass;
        continue;
      }
      if (needPass) await this.enforce(bytes);
      else this.refreshIfStale(nowMs);
      this.trackedBytes += bytes;
      return;
    }
  }

  /**
   * Call after `bytes` landed in the store without a reservation (a download renamed into place):
   * a pass runs when they took the store past its limit.
   */
  async noteWritten(bytes: number): Promise<void> {
    this.trackedBytes += bytes;
    const nowMs = this.now();
    const over = this.trackedBytes > this.highBytes && nowMs >= this.stuckUntilMs;
    if (over || this.scannedAtMs === -Infinity) await this.enforce();
    else this.refreshIfStale(nowMs);
  }

  /**
   * A listing older than `rescanAfterMs` is redone in the background: the write that noticed does
   * not wait for a walk of the whole store (many thousands of files on a big cache).
   */
  private refreshIfStale(nowMs: number): void {
    if (nowMs - this.scannedAtMs <= (this.opts.rescanAfterMs ?? 60_000) || this.pass) return;
    this.enforce().catch((err: Error) => this.opts.log?.('warn', `eviction pass over ${this.opts.dir} failed: ${err.message}`));
  }

  /** A full pass now (or the running one); `incomingBytes` counts bytes about to be written. */
  enforce(incomingBytes = 0): Promise<PassResult> {
    this.pass ??= this.runPass(incomingBytes).finally(() => { this.pass = null; });
    return this.pass;
  }

  private async runPass(incomingBytes: number): Promise<PassResult> {
    this.passesRun++;
    const entries = await this.store.listEntries();
    const storeBytes = entries.reduce((sum, e) => sum + e.sizeBytes, 0);
    const figures = this.opts.limit.kind === 'bytes'
      ? { filesystemBytes: 0, availableBytes: 0 }
      : await (this.opts.filesystemStats ?? filesystemStatsOf)(this.opts.dir);
    const limits: EvictionLimits = {
      ...evictionLimits(this.opts.limit, { storeBytes, ...figures }, this.opts.lowWatermarkRatio ?? DEFAULT_LOW_WATERMARK_RATIO),
      ...(this.opts.maxIdleMs !== undefined ? { maxIdleMs: this.opts.maxIdleMs } : {}),
    };
    const nowMs = this.now();
    const withIncoming = incomingBytes > 0 ? [...entries, { key: INCOMING_KEY, sizeBytes: incomingBytes, lastUsedMs: nowMs, pinned: true }] : entries;
    const plan = planEviction(nowMs, withIncoming, limits);
    const removed: PassResult['evict'] = [];
    const skipped: string[] = [];
    for (const entry of plan.evict) {
      if (await this.store.removeEntry(entry.key)) removed.push(entry);
      else skipped.push(entry.key);
    }
    const removedBytes = removed.reduce((sum, e) => sum + e.sizeBytes, 0);
    this.trackedBytes = storeBytes - removedBytes;
    this.highBytes = limits.highBytes;
    this.scannedAtMs = nowMs;
    this.stuckUntilMs = this.trackedBytes + incomingBytes > limits.highBytes ? nowMs + STUCK_RETRY_MS : -Infinity;
    if (removed.length > 0) {
      this.opts.onEvicted?.(removed);
      const overLimit = removed.filter((e) => e.reason === 'over-limit').length;
      this.opts.log?.('info', `evicted ${removed.length} entries (${removedBytes} bytes; ${overLimit} over the limit of ` +
        `${formatDiskLimit(this.opts.limit)} = ${limits.highBytes} bytes, ${removed.length - overLimit} idle); ${this.trackedBytes} bytes left`);
    }
    if (plan.overBytes > 0) {
      this.opts.log?.('warn', `${this.trackedBytes + incomingBytes} bytes stored, over the low watermark of ${limits.lowBytes} bytes, ` +
        'because the rest is being written or served; it will be evicted once released');
    }
    return { ...plan, evict: removed, remainingBytes: this.trackedBytes + incomingBytes, limits, skipped };
  }

  private now(): number {
    return (this.opts.nowEpochMs ?? Date.now)();
  }
}
