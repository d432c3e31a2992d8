/**
 * dfget's side of "one uploader per home dir": find the live uploader from the lock file or start
 * one in the background (detached, so it outlives this dfget and serves until idle), then tell it
 * over the loopback control channel which data file holds which task and which pieces are
 * verified. If the uploader goes away mid-download (it was killed, or went idle just as we
 * connected), the link starts or finds a new one and replays what it had told the old one.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { lockIsLive, readLock, type UploaderLock } from '../uploader/uploader-lock.ts';
import { CONTROL_PATH, type ControlMsg } from '../uploader/uploader-server.ts';
import type { LogFn } from './home.ts';

const UPLOADER_MAIN = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'uploader', 'main.ts');
const START_TIMEOUT_MS = 15_000;

export interface UploaderSpawnOptions {
  homeDir: string;
  host: string;
  totalLimitBytesPerSec: number;
  uploadLimit: number;
  /** Passed as `--idle-exit` (e.g. "5min"); tests shorten it. */
  idleExit: string;
}

type ListTaskMsg = Extract<ControlMsg, { kind: 'list-task' }>;

export class UploaderLink {
  private ws: WebSocket | null = null;
  private connecting: Promise<void> | null = null;
  private readonly listed = new Map<string, { msg: ListTaskMsg; pieces: Set<number> }>();
  private closed = false;
  addr = '';

  constructor(private readonly opts: UploaderSpawnOptions, private readonly log: LogFn) {}

  /** Find or start the uploader and connect; resolves with its data-plane address. */
  async connect(): Promise<string> {
    this.connecting ??= this.establish().finally(() => { this.connecting = null; });
    await this.connecting;
    return this.addr;
  }

  listTask(msg: Omit<ListTaskMsg, 'kind'>): void {
    const full: ListTaskMsg = { kind: 'list-task', ...msg };
    const entry = this.listed.get(msg.taskId);
    if (entry) entry.msg = full;
    else this.listed.set(msg.taskId, { msg: full, pieces: new Set() });
    this.send(full);
  }

  havePiece(taskId: string, piece: number): void {
    this.listed.get(taskId)?.pieces.add(piece);
    this.send({ kind: 'have-piece', taskId, piece });
  }

  /** Forget pieces of a task (the plan changed); the uploader keeps the task listed with none. */
  resetTask(taskId: string): void {
    this.listed.delete(taskId);
  }

  close(): void {
    this.closed = true;
    this.ws?.close();
  }

  private send(msg: ControlMsg): void {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
    else if (!this.closed) void this.connect().catch((err: Error) => this.log('warn', `uploader unavailable: ${err.message}`));
  }

  private async establish(): Promise<void> {
    const lock = await this.findOrStart();
    const ws = new WebSocket(`ws://127.0.0.1:${lock.port}${CONTROL_PATH}?token=${lock.token}`);
    await new Promise<void>((resolveOpen, reject) => {
      ws.once('open', () => resolveOpen());
      ws.once('error', reject);
    });
    ws.on('error', () => ws.terminate());
    ws.on('close', () => {
      if (this.ws === ws) this.ws = null;
      if (!this.closed) this.log('warn', 'uploader control channel closed; will reconnect on next update');
    });
    this.ws = ws;
    this.addr = lock.addr;
    for (const { msg, pieces } of this.listed.values()) {
      ws.send(JSON.stringify(msg));
      for (const piece of pieces) ws.send(JSON.stringify({ kind: 'have-piece', taskId: msg.taskId, piece }));
    }
  }

  private async findOrStart(): Promise<UploaderLock> {
    const existing = await readLock(this.opts.homeDir);
    if (existing && await lockIsLive(existing)) return existing;
    this.spawnUploader();
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      const lock = await readLock(this.opts.homeDir);
      if (lock && await lockIsLive(lock)) return lock;
    }
    throw new Error(`the uploader did not start within ${START_TIMEOUT_MS} ms; see ${join(this.opts.homeDir, 'logs', 'uploader.err')}`);
  }

  private spawnUploader(): void {
    const logDir = join(this.opts.homeDir, 'logs');
    mkdirSync(logDir, { recursive: true });
    const errFd = openSync(join(logDir, 'uploader.err'), 'a');
    const child = spawn(process.execPath, [
      '--import', import.meta.resolve('tsx'), UPLOADER_MAIN,
      '--home', this.opts.homeDir,
      '--host', this.opts.host,
      '--totallimit', String(this.opts.totalLimitBytesPerSec),
      '--upload-limit', String(this.opts.uploadLimit),
      '--idle-exit', this.opts.idleExit,
    ], { detached: true, stdio: ['ignore', 'ignore', errFd], env: process.env });
    closeSync(errFd);
    child.unref();
    this.log('info', `started background uploader pid ${child.pid}`);
  }
}
