/**
 * Garbage collection of a home's data dir (`<home>/data`), by the core's eviction policy:
 *
 * - the seed's rule: files unused for longer than one hour are removed, except those in use
 *   (their names are passed in as `inUse`). A file's last use is its last modification or, for
 *   one the uploader lists, when it was listed or last served (`lastUsedMs`), so a slow download
 *   that keeps writing and a backup still being served are never collected. (The seed's other
 *   rule, unlisting a task nobody asked for in 3 minutes, is the uploader core's; an unlisted
 *   task's files become collectable here an hour after their last use.)
 * - bounded disk: past a size limit (`--data-max`, default: fill the filesystem to at most 90 %),
 *   the least recently used files not in use go first until the dir is at the low watermark
 *   (`incomingBytes` makes room for a download about to start). The uploader passes as in use
 *   only what is being written or served, so it may evict a listed `.server` backup, unlisting it.
 *
 * A download's data file `X` and its resume record `X.meta` are one entry (removed together); a
 * `.server` backup is its own. Subdirectories are left alone.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_DISK_LIMIT, type DiskLimit, type EvictionEntry } from '../../core/eviction.ts';
import { DiskBudget, type FilesystemStats, type PassResult } from '../disk-budget.ts';

export const RESIDUAL_MAX_AGE_MS = 60 * 60_000;
/** The data dir's limit when none is configured. */
export const DEFAULT_DATA_LIMIT: DiskLimit = DEFAULT_DISK_LIMIT;

export interface DataGcOptions {
  /** Names of files being written or served: never removed (either `X` or `X.meta` pins both). */
  inUse: ReadonlySet<string>;
  /** Size limit; null = none (the one-hour rule only). Default DEFAULT_DATA_LIMIT. */
  limit?: DiskLimit | null;
  /** Bytes about to be written (a download starting): room is made for them too. */
  incomingBytes?: number;
  /**
   * Last use (epoch ms) the uploader saw of files it lists — listed or served — which a file's
   * modification time does not show; an entry's last use is the later of the two.
   */
  lastUsedMs?: ReadonlyMap<string, number>;
  maxAgeMs?: number;
  lowWatermarkRatio?: number;
  nowEpochMs?: number;
  filesystemStats?: (dir: string) => Promise<FilesystemStats>;
}

export interface DataGcResult {
  /** File names removed. */
  removed: string[];
  pass: PassResult;
}

/** One pass over `dataDir`: residual files and, past the limit, the least recently used. */
export async function collectDataDir(dataDir: string, opts: DataGcOptions): Promise<DataGcResult> {
  const groups = new Map<string, string[]>();
  const removed: string[] = [];
  const store = {
    listEntries: () => listGroups(dataDir, opts.inUse, opts.lastUsedMs ?? new Map(), groups),
    removeEntry: async (key: string) => {
      for (const name of groups.get(key) ?? []) {
        await fs.rm(join(dataDir, name), { force: true });
        removed.push(name);
      }
      return true;
    },
  };
  const nowEpochMs = opts.nowEpochMs ?? Date.now();
  const limit = opts.limit === undefined ? DEFAULT_DATA_LIMIT : opts.limit ?? { kind: 'bytes' as const, maxBytes: Infinity };
  const budget = new DiskBudget(store, {
    dir: dataDir, limit, maxIdleMs: opts.maxAgeMs ?? RESIDUAL_MAX_AGE_MS, nowEpochMs: () => nowEpochMs,
    ...(opts.lowWatermarkRatio !== undefined && { lowWatermarkRatio: opts.lowWatermarkRatio }),
    ...(opts.filesystemStats && { filesystemStats: opts.filesystemStats }),
  });
  const pass = await budget.enforce(opts.incomingBytes ?? 0);
  return { removed, pass };
}

/** The seed's one-hour rule alone; returns the names removed. Missing dir = nothing to do. */
export async function collectResidualFiles(
  dataDir: string, maxAgeMs: number, inUse: ReadonlySet<string>, nowEpochMs = Date.now(),
): Promise<string[]> {
  return (await collectDataDir(dataDir, { inUse, limit: null, maxAgeMs, nowEpochMs })).removed;
}

async function listGroups(
  dataDir: string, inUse: ReadonlySet<string>, lastUsedMs: ReadonlyMap<string, number>, groups: Map<string, string[]>,
): Promise<EvictionEntry[]> {
  let names: string[];
  try {
    names = await fs.readdir(dataDir);
  } catch {
    return [];
  }
  const entries = new Map<string, EvictionEntry>();
  for (const name of names) {
    const stat = await fs.stat(join(dataDir, name)).catch(() => null);
    if (!stat?.isFile()) continue;
    const key = taskFileOf(name);
    const entry = entries.get(key) ?? { key, sizeBytes: 0, lastUsedMs: 0, pinned: inUse.has(key) };
    entry.sizeBytes += stat.size;
    entry.lastUsedMs = Math.max(entry.lastUsedMs, stat.mtimeMs, lastUsedMs.get(name) ?? 0);
    entry.pinned ||= inUse.has(name);
    entries.set(key, entry);
    groups.set(key, [...(groups.get(key) ?? []), name]);
  }
  return [...entries.values()];
}

/** `X.meta` belongs with data file `X`. */
function taskFileOf(name: string): string {
  return name.endsWith('.meta') ? name.slice(0, -'.meta'.length) : name;
}
