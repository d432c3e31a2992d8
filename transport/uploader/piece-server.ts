/**
 * What a host's uploader serves: the data files of this home's downloads, by task. The data
 * plane (transport/data-plane.ts, the core `Uploader`) decides whether a request is served;
 * this maps a served (task, piece) to bytes of the listed file and sends them within this node's
 * TX limit (`--totallimit`). The piece is read straight into a reused frame buffer behind its
 * header (no fresh memory, no copy), from a file handle kept open while the task is listed
 * (an open handle follows the file when the finished download is moved to its output).
 *
 * No network message names a file: a request is (taskId, piece), and a file name reaches this
 * table only through the local control channel, checked against the data dir's pattern.
 *
 * Admission: a request is served only with a grant signed by a supernode key this uploader trusts
 * for its task (`trust`): keys come only from this home's downloads and its seeder, each of which
 * got it in a `task-info` from the supernode it registered with.
 */
import { promises as fs } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import type { WebSocket } from 'ws';
import type { MachineFault } from '../../core/runtime.ts';
import type { TokenBucket } from '../../core/token-bucket.ts';
import type { UploaderConfig } from '../../core/uploader.ts';
import { BufferPool } from '../buffer-pool.ts';
import { UploaderDataPlane } from '../data-plane.ts';
import { GrantVerifier } from '../grants.ts';
import { throttle } from '../throttle.ts';
import { pieceFramePrefix } from '../wire.ts';
import type { ListTaskMsg, OutputStamp, TaskLayout } from './control-messages.ts';

/** Tasks with trusted keys remembered, and keys per task (a task seen by several supernodes has one each). */
const MAX_TRUSTED_TASKS = 10_000;
const MAX_KEYS_PER_TASK = 16;

export type UploaderLogLevel = 'info' | 'warn' | 'error';
export type UploaderLog = (level: UploaderLogLevel, message: string) => void;

export interface PieceServerOptions {
  dataDir: string;
  config: UploaderConfig;
  txBucket: TokenBucket;
  /** Test-only fault: flip bytes of every served piece (peers must catch it by digest). */
  corruptUploads: boolean;
  log: UploaderLog;
  /**
   * Where a line per served piece goes, with where its serving time went: reading it, waiting for
   * the TX bucket's tokens, handing the frame to the kernel (the uploader's `--log-level debug`;
   * `npm run calibrate` splits peer fetches with them: bench/calibrate/upload-split.ts). Absent,
   * nothing is timed.
   */
  onPieceTiming?: (message: string) => void;
  /** The core unlisted a task nobody asked for: stop offering it elsewhere too. */
  onUnlisted(taskId: string): void;
  /** The core asked to exit (idle). */
  onIdle(): void;
  /** The data dir itself is gone (the home was removed): nothing is left to serve. */
  onDataDirRemoved(): void;
  onFault(fault: MachineFault): void;
}

export interface PieceServerStats {
  servedPieces: number;
  servedBytes: number;
  refusedRequests: number;
  badFrames: number;
}

type ServedTask = { fileName: string; handle: Promise<fs.FileHandle | null> | null; outputStamp?: OutputStamp } & TaskLayout;

/** Start of a served piece's debug line; bench/calibrate/upload-split.ts reads them. */
export const UPLOAD_TIMING_PREFIX = 'served piece ';

/** Frame buffers retained for reuse: a few uploads of the largest pieces. */
const FRAME_POOL_BYTES = 128 * 1024 * 1024;

export class PieceServer {
  private readonly plane: UploaderDataPlane;
  private readonly tasks = new Map<string, ServedTask>();
  /** taskId -> supernode keys whose grants this uploader accepts for it. */
  private readonly trusted = new Map<string, Set<string>>();
  private readonly grants = new GrantVerifier();
  private readonly pool = new BufferPool(FRAME_POOL_BYTES);
  /** taskId -> uploads being read from its file now. */
  private readonly serving = new Map<string, number>();
  /** taskId -> when it was last listed or served (epoch ms), for the data dir's LRU. */
  private readonly lastUsedMs = new Map<string, number>();
  private servedPieces = 0;
  private servedBytes = 0;

  constructor(private readonly opts: PieceServerOptions) {
    this.plane = new UploaderDataPlane('uploader', opts.config, {
      serve: (connId, requestId, taskId, piece) => void this.serve(connId, requestId, taskId, piece),
      unlisted: (taskId) => {
        this.forget(taskId);
        opts.onUnlisted(taskId);
        opts.log('info', `unlisted task ${taskId} (not requested for a while)`);
      },
      idle: () => opts.onIdle(),
      onFault: opts.onFault,
      verifyGrant: (taskId, grant) => this.grants.check(taskId, grant, this.trusted.get(taskId) ?? []),
    });
  }

  get config(): Readonly<UploaderConfig> { return this.plane.config; }
  get listedTasks(): number { return this.plane.listedTasks; }
  get stats(): PieceServerStats {
    return { servedPieces: this.servedPieces, servedBytes: this.servedBytes, refusedRequests: this.plane.refusedRequests, badFrames: this.plane.badFrames };
  }

  configure(config: UploaderConfig): void {
    this.plane.apply({ kind: 'configure', config });
  }

  /** Serve `msg.taskId` from `msg.fileName` (again: the file moved, or the download restarted). */
  listTask(msg: Omit<ListTaskMsg, 'kind'>): void {
    this.forget(msg.taskId);
    this.tasks.set(msg.taskId, {
      fileName: msg.fileName, handle: null, totalBytes: msg.totalBytes, pieceSizeBytes: msg.pieceSizeBytes, pieceCount: msg.pieceCount,
      ...(msg.outputStamp ? { outputStamp: msg.outputStamp } : {}),
    });
    this.lastUsedMs.set(msg.taskId, Date.now());
    this.plane.apply({ kind: 'list-task', taskId: msg.taskId, pieceCount: msg.pieceCount });
  }

  /** Accept grants signed by `key` for `taskId` (its supernode's key; bounded, oldest task forgotten first). */
  trust(taskId: string, key: string): void {
    let keys = this.trusted.get(taskId);
    if (!keys) {
      if (this.trusted.size >= MAX_TRUSTED_TASKS) this.trusted.delete(this.trusted.keys().next().value as string);
      this.trusted.set(taskId, keys = new Set());
    }
    if (keys.size >= MAX_KEYS_PER_TASK) keys.delete(keys.values().next().value as string);
    keys.add(key);
  }

  /** Returns false when the task is not listed (never, or unlisted after going unused). */
  havePiece(taskId: string, piece: number): boolean {
    if (!this.tasks.has(taskId)) return false;
    this.plane.apply({ kind: 'have-piece', taskId, piece });
    return true;
  }

  /** The layout of a task listed with every piece, or null. */
  completeLayout(taskId: string): TaskLayout | null {
    const task = this.tasks.get(taskId);
    if (!task) return null;
    for (let piece = 0; piece < task.pieceCount; piece++) if (!this.plane.holds(taskId, piece)) return null;
    return { totalBytes: task.totalBytes, pieceSizeBytes: task.pieceSizeBytes, pieceCount: task.pieceCount };
  }

  /**
   * What the data dir's collection must know: the files in use — a download's data file while it
   * is written or moved (and the `.server` backup its completion links beside it) and any file
   * being read for an upload — and when each listed file was last listed or served.
   */
  dataUse(): { inUse: Set<string>; inUseTasks: Set<string>; lastUsedMs: Map<string, number> } {
    const inUse = new Set<string>();
    const lastUsedMs = new Map<string, number>();
    for (const [taskId, task] of this.tasks) {
      if (!task.fileName.endsWith('.server') || (this.serving.get(taskId) ?? 0) > 0) {
        inUse.add(task.fileName);
        inUse.add(`${taskId}.server`);
      }
      lastUsedMs.set(task.fileName, this.lastUsedMs.get(taskId) ?? 0);
    }
    // A listed task's data file may be mid-download, or being moved to its output right after
    // its backup was listed: never collected under a running dfget.
    return { inUse, inUseTasks: new Set(this.tasks.keys()), lastUsedMs };
  }

  /** The data dir's collection removed `fileName`: stop offering the task it held. Returns its taskId, or null. */
  fileRemoved(fileName: string): string | null {
    for (const [taskId, task] of this.tasks) {
      if (task.fileName !== fileName) continue;
      this.plane.apply({ kind: 'unlist-task', taskId });
      this.forget(taskId);
      this.opts.onUnlisted(taskId);
      return taskId;
    }
    return null;
  }

  /** A peer's data-plane connection. */
  accept(ws: WebSocket): void {
    this.plane.accept(ws, () => {});
  }

  close(): void {
    this.plane.close();
    for (const taskId of [...this.tasks.keys()]) this.forget(taskId);
  }

  /** Stop serving a task and close its file (a removed file's space is freed once closed). */
  private forget(taskId: string): void {
    const handle = this.tasks.get(taskId)?.handle;
    this.tasks.delete(taskId);
    this.lastUsedMs.delete(taskId);
    void handle?.then((h) => h?.close()).catch(() => {});
  }

  private async serve(connId: string, requestId: number, taskId: string, piece: number): Promise<void> {
    let frame: Buffer | null = null;
    const timing = this.opts.onPieceTiming;
    const startedMs = timing ? performance.now() : 0;
    this.serving.set(taskId, (this.serving.get(taskId) ?? 0) + 1);
    this.lastUsedMs.set(taskId, Date.now());
    try {
      const task = this.tasks.get(taskId);
      if (!task || !this.plane.socket(connId)) return;
      const startByte = piece * task.pieceSizeBytes;
      const sizeBytes = Math.min(task.pieceSizeBytes, task.totalBytes - startByte);
      const prefix = pieceFramePrefix({ kind: 'piece-data', requestId, taskId, piece, sizeBytes });
      frame = this.pool.acquire(prefix.length + sizeBytes);
      prefix.copy(frame, 0);
      const bytes = frame.subarray(prefix.length, prefix.length + sizeBytes);
      const read = await this.readPiece(taskId, task, startByte, bytes);
      const readMs = timing ? performance.now() : 0;
      if (read === 'edited') {
        this.opts.log('warn', `${task.fileName} is a link to its download's output, and the output was edited: no longer seeding ${taskId}`);
        this.unlistEdited(taskId, task);
        return this.plane.refuse(connId, requestId, 'missing');
      }
      if (read === 'gone') {
        this.opts.log('warn', `${task.fileName} was removed: no longer seeding ${taskId}`);
        this.stopSeeding(taskId, task);
        void fs.stat(this.opts.dataDir).then(() => {}, (err: NodeJS.ErrnoException) => {
          if (err.code === 'ENOENT') this.opts.onDataDirRemoved();
        });
        return this.plane.refuse(connId, requestId, 'missing');
      }
      if (read === 'unreadable') {
        this.opts.log('warn', `piece ${piece} of ${taskId} is listed but ${task.fileName} cannot be read; refusing`);
        return this.plane.refuse(connId, requestId, 'missing');
      }
      if (this.opts.corruptUploads && bytes.length > 0) {
        bytes[0] ^= 0xff;
        bytes[bytes.length >> 1] ^= 0x5a;
      }
      await throttle([this.opts.txBucket], sizeBytes);
      const tokensMs = timing ? performance.now() : 0;
      const ws = this.plane.socket(connId);
      if (!ws) return;
      await new Promise<void>((resolve) => ws.send(frame!.subarray(0, prefix.length + sizeBytes), { binary: true }, () => resolve()));
      if (timing) {
        const ms = (from: number, to: number): string => (to - from).toFixed(1);
        timing(`${UPLOAD_TIMING_PREFIX}${piece} of ${taskId.slice(0, 12)} to ${connId}: read ${ms(startedMs, readMs)} ms, `
          + `tokens ${ms(readMs, tokensMs)} ms, to the kernel ${ms(tokensMs, performance.now())} ms`);
      }
      this.servedPieces++;
      this.servedBytes += sizeBytes;
    } catch (err) {
      this.opts.log('warn', `serving piece ${piece} of ${taskId} failed: ${(err as Error).message}`);
    } finally {
      if (frame) this.pool.release(frame);
      const left = (this.serving.get(taskId) ?? 1) - 1;
      if (left > 0) this.serving.set(taskId, left);
      else this.serving.delete(taskId);
      this.plane.finished(connId, requestId);
    }
  }

  /**
   * Fill `into` from the task's file at `startByte`. A finished download moves its data file
   * right after listing the `.server` backup; a handle opened before the move follows the file,
   * and one opened after it finds the backup instead. A backup that is a link to the user's
   * output is read only while the output's size and modification time are those it was listed
   * with ('edited' otherwise: one fstat per piece).
   */
  private async readPiece(taskId: string, task: ServedTask, startByte: number, into: Buffer): Promise<'read' | 'unreadable' | 'edited' | 'gone'> {
    let absent = false;
    task.handle ??= fs.open(join(this.opts.dataDir, task.fileName), 'r')
      .catch(() => fs.open(join(this.opts.dataDir, `${taskId}.server`), 'r'))
      .catch((err: NodeJS.ErrnoException) => {
        absent = err.code === 'ENOENT';
        return null;
      });
    const handle = await task.handle;
    // A finished download's backup no longer there (its user or a cleanup removed it): gone for
    // good. A download's data file can be missing for a moment (moved to its output before the
    // backup is linked), so only a listed `.server` counts.
    if (!handle && absent && task.fileName === `${taskId}.server`) return 'gone';
    if (handle && task.outputStamp && !await unchanged(handle, task.outputStamp)) return 'edited';
    if (handle && await readFully(handle, startByte, into)) return 'read';
    // Unreadable now: the next request opens the file again.
    if (this.tasks.get(taskId) === task && task.handle) {
      const stale = task.handle;
      task.handle = null;
      void stale.then((h) => h?.close()).catch(() => {});
    }
    return 'unreadable';
  }

  /**
   * The output behind a linked backup was edited: stop offering the task (here, to the seeder and
   * to the supernodes) and drop the backup's name — the user's output keeps its own.
   */
  private unlistEdited(taskId: string, task: ServedTask): void {
    if (!this.stopSeeding(taskId, task)) return;
    void fs.rm(join(this.opts.dataDir, task.fileName), { force: true }).catch(() => {});
  }

  /** Stop offering the task here, to the seeder and to the supernodes; false if it was no longer listed. */
  private stopSeeding(taskId: string, task: ServedTask): boolean {
    if (this.tasks.get(taskId) !== task) return false;
    this.plane.apply({ kind: 'unlist-task', taskId });
    this.forget(taskId);
    this.opts.onUnlisted(taskId);
    return true;
  }
}

async function unchanged(handle: fs.FileHandle, stamp: OutputStamp): Promise<boolean> {
  try {
    const st = await handle.stat({ bigint: true });
    return Number(st.size) === stamp.sizeBytes && st.mtimeNs.toString() === stamp.mtimeNs;
  } catch {
    return false;
  }
}

async function readFully(handle: fs.FileHandle, startByte: number, into: Buffer): Promise<boolean> {
  try {
    let done = 0;
    while (done < into.length) {
      const { bytesRead } = await handle.read(into, done, into.length - done, startByte + done);
      if (bytesRead === 0) return false;
      done += bytesRead;
    }
    return true;
  } catch {
    return false;
  }
}
