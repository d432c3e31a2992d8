/**
 * Bounded disks: which stored entries to remove so a store (the supernode's CDN, a home's data
 * dir, dfdaemon's local repo) stays under its size limit. Pure: the stores list their entries
 * with sizes, last use and whether each is pinned, and carry out what this decides.
 *
 * Theory of operation. Two watermarks give hysteresis: nothing is evicted while the store holds
 * at most `highBytes`; once it holds more, least-recently-used entries go until it holds at most
 * `lowBytes`, so a store that grows by one piece at a time does not evict on every write. A pinned
 * entry (being written, or being served) is never evicted: when pinned entries alone exceed the
 * limit, the plan says by how much (`overBytes`) and the store stays over until they are released.
 * Entries unused for longer than `maxIdleMs` (the seed's "residual files older than one hour") go
 * whatever the size, pinned ones excepted. Ties in last use are broken by key, so one listing
 * always yields one plan.
 *
 *   input                                    plan
 *   total <= high, nothing idle too long     evict nothing
 *   total >  high                            evict LRU unpinned entries until total <= low
 *   an unpinned entry idle > maxIdleMs       evict it (reason 'idle')
 *   pinned entries alone > low               evict every unpinned one; overBytes > 0
 *
 * A limit may be a size or a share of the filesystem the store lives on (`90%`: the store may grow
 * only while the filesystem stays under 90 % full); `highWatermarkBytes` turns either into bytes
 * from the filesystem's figures, which the driver reads (statfs) and passes in.
 */

export interface EvictionEntry {
  /** What the store calls the entry (task id, blob digest, file name). */
  key: string;
  sizeBytes: number;
  /** When the entry was last written or read, in the store's clock (ms). */
  lastUsedMs: number;
  /** Being written or served: never evicted. */
  pinned: boolean;
}

export interface EvictionLimits {
  highBytes: number;
  lowBytes: number;
  /** Unpinned entries unused for longer than this are evicted regardless of size (none if absent). */
  maxIdleMs?: number;
}

export type EvictionReason = 'idle' | 'over-limit';

export interface EvictionPlan {
  /** Keys to remove, oldest first. */
  evict: { key: string; sizeBytes: number; reason: EvictionReason }[];
  totalBytes: number;
  /** What the store holds once the plan is carried out. */
  remainingBytes: number;
  /** How far `remainingBytes` stays above `lowBytes` because pinned entries cannot go (0 if none). */
  overBytes: number;
}

/** The plan for one listing of a store's entries at `nowMs`. */
export function planEviction(nowMs: number, entries: readonly EvictionEntry[], limits: EvictionLimits): EvictionPlan {
  const highBytes = Math.max(0, limits.highBytes);
  const lowBytes = Math.min(Math.max(0, limits.lowBytes), highBytes);
  const oldestFirst = [...entries].sort((a, b) => a.lastUsedMs - b.lastUsedMs || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  let totalBytes = 0;
  for (const entry of oldestFirst) totalBytes += entry.sizeBytes;
  const evict: EvictionPlan['evict'] = [];
  let remainingBytes = totalBytes;
  const overLimit = totalBytes > highBytes;
  for (const entry of oldestFirst) {
    if (entry.pinned) continue;
    const idle = limits.maxIdleMs !== undefined && nowMs - entry.lastUsedMs > limits.maxIdleMs;
    const needed = overLimit && remainingBytes > lowBytes;
    if (!idle && !needed) continue;
    evict.push({ key: entry.key, sizeBytes: entry.sizeBytes, reason: idle ? 'idle' : 'over-limit' });
    remainingBytes -= entry.sizeBytes;
  }
  const overBytes = overLimit ? Math.max(0, remainingBytes - lowBytes) : 0;
  return { evict, totalBytes, remainingBytes, overBytes };
}

/** A store's size limit as configured: a fixed size, or the highest filesystem use to allow. */
export type DiskLimit =
  | { kind: 'bytes'; maxBytes: number }
  | { kind: 'disk-use'; maxPercent: number };

/** What a default limit is: the store may fill its filesystem to 90 %, like kubelet's image GC (85 %). */
export const DEFAULT_DISK_LIMIT: DiskLimit = Object.freeze({ kind: 'disk-use', maxPercent: 90 });

/** The low watermark as a share of the high one. */
export const DEFAULT_LOW_WATERMARK_RATIO = 0.8;

export interface FilesystemFigures {
  /** What the store holds now. */
  storeBytes: number;
  /** Capacity of the filesystem the store lives on. */
  filesystemBytes: number;
  /** Bytes still available to this process on that filesystem. */
  availableBytes: number;
}

/**
 * The high watermark in bytes. For `disk-use` it is the store size at which the filesystem would
 * reach `maxPercent` full with everything else on it unchanged — so when other data fills the disk
 * the store shrinks to make room (down to 0), and an idle disk lets the store grow into it.
 */
export function highWatermarkBytes(limit: DiskLimit, figures: FilesystemFigures): number {
  if (limit.kind === 'bytes') return limit.maxBytes;
  const keepFreeBytes = figures.filesystemBytes * (1 - limit.maxPercent / 100);
  return Math.max(0, Math.floor(figures.storeBytes + figures.availableBytes - keepFreeBytes));
}

/** Both watermarks for a limit and the filesystem's figures. */
export function evictionLimits(limit: DiskLimit, figures: FilesystemFigures, lowRatio = DEFAULT_LOW_WATERMARK_RATIO): EvictionLimits {
  const highBytes = highWatermarkBytes(limit, figures);
  return { highBytes, lowBytes: Math.floor(highBytes * Math.min(1, Math.max(0, lowRatio))) };
}

export type DiskLimitError = { kind: 'disk-limit-error'; message: string };

/**
 * Parses a limit flag: `64GiB`, `500MB`, `1T` (a size, through `parseBytes`) or `90%` (of the
 * filesystem, 1 to 99). `parseBytes` is passed in so this file stays free of the unit tables.
 */
export function parseDiskLimit(text: string, parseBytes: (s: string) => number): DiskLimit | DiskLimitError {
  const trimmed = text.trim();
  const percent = /^(\d+(?:\.\d+)?)\s*%$/.exec(trimmed);
  if (percent) {
    const maxPercent = Number(percent[1]);
    if (maxPercent < 1 || maxPercent > 99) {
      return { kind: 'disk-limit-error', message: `a share of the disk must be from 1% to 99%, got "${trimmed}"` };
    }
    return { kind: 'disk-use', maxPercent };
  }
  try {
    const maxBytes = parseBytes(trimmed);
    if (maxBytes <= 0) return { kind: 'disk-limit-error', message: `a size limit must be above 0, got "${trimmed}"` };
    return { kind: 'bytes', maxBytes };
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    return { kind: 'disk-limit-error', message: `expected a size (64GiB) or a share of the disk (90%): ${reason}` };
  }
}

export function formatDiskLimit(limit: DiskLimit): string {
  return limit.kind === 'bytes' ? `${limit.maxBytes} bytes` : `${limit.maxPercent}% of the filesystem`;
}
