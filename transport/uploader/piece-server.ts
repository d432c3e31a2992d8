/**
 * What a host's uploader serves: the data files of this home's downloads, by task. The data
 * plane (transport/data-plane.ts, the core `Uploader`) decides whether a request is served;
 * this maps a served (task, piece) to bytes of the listed file and sends them within this node's
 * TX limit (`--totallimit`).
 *
 * No network message names a file: a request is (taskId, piece), and a file name reaches this
 * table only through the local control channel, checked against the data dir's pattern.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { WebSocket } from 'ws';
import type { MachineFault } from '../../core/runtime.ts';
import type { TokenBucket } from '../../core/token-bucket.ts';
import type { UploaderConfig } from '../../core/uploader.ts';
import { UploaderDataPlane } from '../data-plane.ts';
import { throttle } from '../throttle.ts';
import { encodePieceFrame } from '../wire.ts';
import type { ListTaskMsg, TaskLayout } from './control-messages.ts';

export type UploaderLogLevel = 'info' | 'warn' | 'error';
export type UploaderLog = (level: UploaderLogLevel, message: string) => void;

export interface PieceServerOptions {
  dataDir: string;
  config: UploaderConfig;
  txBucket: TokenBucket;
  /** Test-only fault: flip bytes of every served piece (peers must catch it by digest). */
  corruptUploads: boolean;
  log: UploaderLog;
  /** The core unlisted a task nobody asked for: stop offering it elsewhere too. */
  onUnlisted(taskId: string): void;
  /** The core asked to exit (idle). */
  onIdle(): void;
  onFault(fault: MachineFault): void;
}

export interface PieceServerStats {
  servedPieces: number;
  servedBytes: number;
  refusedRequests: number;
  badFrames: number;
}

type ServedTask = { fileName: string } & TaskLayout;

export class PieceServer {
  private readonly plane: UploaderDataPlane;
  private readonly tasks = new Map<string, ServedTask>();
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
        this.tasks.delete(taskId);
        this.lastUsedMs.delete(taskId);
        opts.onUnlisted(taskId);
        opts.log('info', `unlisted task ${taskId} (not requested for a while)`);
      },
      idle: () => opts.onIdle(),
      onFault: opts.onFault,
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
    this.tasks.set(msg.taskId, { fileName: msg.fileName, totalBytes: msg.totalBytes, pieceSizeBytes: msg.pieceSizeBytes, pieceCount: msg.pieceCount });
    this.lastUsedMs.set(msg.taskId, Date.now());
    this.plane.apply({ kind: 'list-task', taskId: msg.taskId, pieceCount: msg.pieceCount });
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
      this.tasks.delete(taskId);
      this.lastUsedMs.delete(taskId);
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
  }

  private async serve(connId: string, requestId: number, taskId: string, piece: number): Promise<void> {
    this.serving.set(taskId, (this.serving.get(taskId) ?? 0) + 1);
    this.lastUsedMs.set(taskId, Date.now());
    try {
      const task = this.tasks.get(taskId);
      if (!task || !this.plane.socket(connId)) return;
      const startByte = piece * task.pieceSizeBytes;
      const sizeBytes = Math.min(task.pieceSizeBytes, task.totalBytes - startByte);
      // A finished download moves its data file right after listing the `.server` backup; a
      // request racing that update finds the backup instead.
      const bytes = await readRange(join(this.opts.dataDir, task.fileName), startByte, sizeBytes)
        ?? await readRange(join(this.opts.dataDir, `${taskId}.server`), startByte, sizeBytes);
      if (bytes === null) {
        this.opts.log('warn', `piece ${piece} of ${taskId} is listed but ${task.fileName} cannot be read; refusing`);
        return this.plane.refuse(connId, requestId, 'missing');
      }
      if (this.opts.corruptUploads && bytes.length > 0) {
        bytes[0] ^= 0xff;
        bytes[bytes.length >> 1] ^= 0x5a;
      }
      await throttle([this.opts.txBucket], sizeBytes);
      const ws = this.plane.socket(connId);
      if (!ws) return;
      const frame = encodePieceFrame({ kind: 'piece-data', requestId, taskId, piece, sizeBytes }, bytes);
      await new Promise<void>((resolve) => ws.send(frame, { binary: true }, () => resolve()));
      this.servedPieces++;
      this.servedBytes += sizeBytes;
    } catch (err) {
      this.opts.log('warn', `serving piece ${piece} of ${taskId} failed: ${(err as Error).message}`);
    } finally {
      const left = (this.serving.get(taskId) ?? 1) - 1;
      if (left > 0) this.serving.set(taskId, left);
      else this.serving.delete(taskId);
      this.plane.finished(connId, requestId);
    }
  }
}

async function readRange(path: string, startByte: number, sizeBytes: number): Promise<Buffer | null> {
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(path, 'r');
    const bytes = Buffer.allocUnsafe(sizeBytes);
    let done = 0;
    while (done < sizeBytes) {
      const { bytesRead } = await handle.read(bytes, done, sizeBytes - done, startByte + done);
      if (bytesRead === 0) return null;
      done += bytesRead;
    }
    return bytes;
  } catch {
    return null;
  } finally {
    await handle?.close();
  }
}
