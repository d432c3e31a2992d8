/**
 * Keeps a home's data dir within its rules, for the uploader that serves it: the seed's one-hour
 * rule and the size limit (`--data-max`), by `collectDataDir` (the core's eviction policy).
 *
 * When: at start, every ten minutes, after each finished download (its `.server` backup listed),
 * and before a download writes (`make-room`, with its bytes counted, so the dir stays under the
 * limit instead of passing it by a file). Passes run one at a time. A file removed while the
 * uploader lists it is unlisted and unseeded first-hand (`fileRemoved`): peers are no longer sent
 * here for it. In use, never removed: files being written or served (piece-server.ts
 * `dataUse`), and the file a download announced with make-room until it lists it (at most
 * `RESERVATION_MS`).
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { formatDiskLimit, type DiskLimit } from '../../core/eviction.ts';
import { collectDataDir, DEFAULT_DATA_LIMIT, RESIDUAL_MAX_AGE_MS } from './data-gc.ts';
import type { UploaderLog } from './piece-server.ts';

const GC_INTERVAL_MS = 10 * 60_000;
/** A download lists its data file right after make-room; this bounds a reservation it never used. */
const RESERVATION_MS = 10 * 60_000;
const MAX_RESERVATIONS = 1024;

export interface DataUse {
  dataUse(): { inUse: Set<string>; inUseTasks: Set<string>; lastUsedMs: Map<string, number> };
  fileRemoved(fileName: string): string | null;
}

export interface DataKeeperOptions {
  dataDir: string;
  limit?: DiskLimit;
  residualMaxAgeMs?: number;
  use: DataUse;
  log: UploaderLog;
}

export class DataKeeper {
  private chain: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  /** File name -> until when a download that asked for room is writing it (epoch ms). */
  private readonly reservations = new Map<string, number>();

  constructor(private readonly opts: DataKeeperOptions) {}

  get limit(): DiskLimit { return this.opts.limit ?? DEFAULT_DATA_LIMIT; }

  start(): void {
    void this.collect('start-up');
    this.timer = setInterval(() => void this.collect('periodic'), GC_INTERVAL_MS);
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
  }

  /** A download is about to write `bytes` into `fileName`: make room, then resolve. */
  makeRoom(fileName: string, bytes: number): Promise<void> {
    if (this.reservations.size >= MAX_RESERVATIONS) this.reservations.clear();
    this.reservations.set(fileName, Date.now() + RESERVATION_MS);
    return this.collect(`room for ${fileName.slice(0, 12)}…`, { fileName, bytes });
  }

  /** The download that asked for room listed its file: the uploader's own record now covers it. */
  listed(fileName: string): void {
    this.reservations.delete(fileName);
  }

  /** A pass over the data dir (after the ones queued before it). Never rejects. */
  collect(reason: string, incoming?: { fileName: string; bytes: number }): Promise<void> {
    this.chain = this.chain.then(() => this.pass(reason, incoming)).catch((err: Error) => {
      this.opts.log('warn', `data dir collection (${reason}) failed: ${err.message}`);
    });
    return this.chain;
  }

  private async pass(reason: string, incoming?: { fileName: string; bytes: number }): Promise<void> {
    const { inUse, inUseTasks, lastUsedMs } = this.opts.use.dataUse();
    const nowMs = Date.now();
    for (const [name, untilMs] of this.reservations) {
      if (untilMs < nowMs) this.reservations.delete(name);
      else inUse.add(name);
    }
    const incomingBytes = incoming ? Math.max(0, incoming.bytes - await sizeOf(join(this.opts.dataDir, incoming.fileName))) : 0;
    const { removed, pass } = await collectDataDir(this.opts.dataDir, {
      inUse, inUseTasks, lastUsedMs, limit: this.limit, incomingBytes, maxAgeMs: this.opts.residualMaxAgeMs ?? RESIDUAL_MAX_AGE_MS, nowEpochMs: nowMs,
    });
    if (removed.length === 0) return;
    const unlisted = removed.map((name) => this.opts.use.fileRemoved(name)).filter((taskId) => taskId !== null);
    this.opts.log('info', `data dir (${reason}): removed ${removed.length} file(s), ${pass.evict.reduce((sum, e) => sum + e.sizeBytes, 0)} bytes `
      + `(${pass.evict.filter((e) => e.reason === 'idle').length} unused for an hour or replaced by a newer download, the rest over ${formatDiskLimit(this.limit)} = `
      + `${pass.limits.highBytes} bytes); ${unlisted.length} of them were listed and are no longer offered; ${pass.remainingBytes} bytes with the incoming download`);
  }
}

/** Bytes of a file and its `.meta` already on disk (0 when absent). */
async function sizeOf(path: string): Promise<number> {
  let total = 0;
  for (const file of [path, `${path}.meta`]) total += (await fs.stat(file).catch(() => null))?.size ?? 0;
  return total;
}
