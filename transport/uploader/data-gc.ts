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
 * `.server` backup is its own. A backup a newer download replaced (SET_ASIDE_NAME) counts as
 * unused since ever: the next pass removes it. Subdirectories are left alone.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_DISK_LIMIT, type DiskLimit, type EvictionEntry } from '../../core/eviction.ts';
import { DiskBudget, type FilesystemStats, type PassResult } from '../disk-budget.ts';
import { SET_ASIDE_NAME } from './control-messages.ts';

export const RESIDUAL_MAX_AGE_MS = 60 * 60_000;
/** The data dir's limit when none is configured. */
export const DEFAULT_DATA_LIMIT: DiskLimit = DEFAULT_DISK_LIMIT;

export interface DataGcOptions {
  /** Names of files being written or served: never removed (either `X` or `X.meta` pins both). */
  inUse: ReadonlySet<string>;
  /**
   * Tasks a download may be writing or moving the data file of: their data files (`<taskId>-…`
   * and its `.meta`, not the `.server` backup) are in use too.
   */
  inUseTasks?: ReadonlySet<string>;
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
    listEntries: () => listGroups(dataDir, { inUse: opts.inUse, inUseTasks: opts.inUseTasks ?? new Set(), lastUsedMs: opts.lastUsedMs ?? new Map() }, groups),
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

interface InUse { inUse: ReadonlySet<string>; inUseTasks: ReadonlySet<string>; lastUsedMs: ReadonlyMap<string, number> }

/**
 * One entry per data file (with its `.meta`) or backup. A file with two names (a `.server` hard
 * link beside the data file about to move to its output) is on disk once: its bytes count for the
 * backup, the name that stays in the data dir, and the data file's name counts none.
 */
async function listGroups(dataDir: string, use: InUse, groups: Map<string, string[]>): Promise<EvictionEntry[]> {
  let names: string[];
  try {
    names = await fs.readdir(dataDir);
  } catch {
    return [];
  }
  const entries = new Map<string, EvictionEntry>();
  const inodes = new Set<string>();
  const backupsFirst = [...names.filter((n) => n.endsWith('.server')), ...names.filter((n) => !n.endsWith('.server'))];
  for (const name of backupsFirst) {
    const stat = await fs.stat(join(dataDir, name)).catch(() => null);
    if (!stat?.isFile()) continue;
    const key = taskFileOf(name);
    const entry = entries.get(key) ?? { key, sizeBytes: 0, lastUsedMs: 0, pinned: use.inUse.has(key) };
    const inode = `${stat.dev}:${stat.ino}`;
    if (!inodes.has(inode)) entry.sizeBytes += stat.size;
    inodes.add(inode);
    // A set-aside backup counts as unused since ever, and nothing pins it (nobody serves it).
    if (!SET_ASIDE_NAME.test(name)) {
      entry.lastUsedMs = Math.max(entry.lastUsedMs, stat.mtimeMs, use.lastUsedMs.get(name) ?? 0);
      entry.pinned ||= use.inUse.has(name) || (!name.endsWith('.server') && use.inUseTasks.has(name.slice(0, 64)));
    }
    entries.set(key, entry);
    groups.set(key, [...(groups.get(key) ?? []), name]);
  }
  return [...entries.values()];
}

/** `X.meta` belongs with data file `X`. */
function taskFileOf(name: string): string {
  return name.endsWith('.meta') ? name.slice(0, -'.meta'.length) : name;
}
