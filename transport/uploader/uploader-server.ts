/**
 * The uploader of one home dir: serves verified pieces of finished and running downloads to other
 * peers over the data plane (`ws://ADDR/data`), driven by core `Uploader`, which decides what is
 * served and what is refused (missing piece, too many uploads). This file only maps a served
 * piece to bytes in `<home>/data/` and sends them within the node's `--totallimit`.
 *
 * Local downloads tell it what they hold over a loopback control channel (`/control?token=...`,
 * token from the lock file; peers on the network never reach it): `list-task` names the data
 * file of a task (again after the file moved to its `.server` backup) and `have-piece` adds a
 * verified piece. No network message names a file: a request is (taskId, piece), and a file name
 * is accepted only in the data dir's own pattern. `seed-task`, sent once a download finished,
 * hands the task to the seeder (seeder.ts), which registers it with the supernodes so that other
 * peers are sent here after the dfget that downloaded it has exited.
 *
 * Lifetime: the core unlists tasks nobody asked for in `unlistAfterMs` (3 min) and asks to exit
 * after `idleExitMs` with nothing listed; the lock is released before the port closes.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { hostname } from 'node:os';
import type { Duplex } from 'node:stream';
import { join } from 'node:path';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { DEFAULT_CONFIG, uploadSlotsFor } from '../../core/config.ts';
import { decodeDataPlane, decodePeerToSupernode, parseJsonSafe } from '../../core/decode.ts';
import type { TaskSpec } from '../../core/protocol.ts';
import { applyAndDrain, fireDue } from '../../core/drive.ts';
import { TokenBucket } from '../../core/token-bucket.ts';
import { DEFAULT_UPLOADER, Uploader, type UploaderEffect, type UploaderInput } from '../../core/uploader.ts';
import { isTaskId, taskIdFor } from '../task-id.ts';
import { CLOSE_BAD_REQUEST, CLOSE_SHUTTING_DOWN, DATA_PATH, MAX_TEXT_FRAME_BYTES, encodePieceFrame, rawToBuffer, sendJson } from '../wire.ts';
import { collectResidualFiles, RESIDUAL_MAX_AGE_MS } from './data-gc.ts';
import { acquireLock, newControlToken, readLock, releaseLock, type UploaderLock } from './uploader-lock.ts';
import { Seeder } from './seeder.ts';
import { monotonicNowMs, throttle } from './throttle.ts';

export const CONTROL_PATH = '/control';
/** Data files: `<taskId>` or `<taskId>-<output key>` while downloading, `<taskId>.server` after. */
export const DATA_FILE_NAME = /^[0-9a-f]{64}(?:-[0-9a-f]{16})?(?:\.server)?$/;
const GC_INTERVAL_MS = 10 * 60_000;

export type ControlMsg =
  | { kind: 'list-task'; taskId: string; fileName: string; totalBytes: number; pieceSizeBytes: number; pieceCount: number }
  | { kind: 'have-piece'; taskId: string; piece: number }
  /** The download finished and every piece is listed: register the task with these supernodes. */
  | { kind: 'seed-task'; taskId: string; task: TaskSpec; supernodes: string[]; uploadRateBytesPerSec?: number; fileDigest?: string };
/** Uploader -> dfget: a `have-piece` named a task that is not listed; send list-task and every piece again. */
export type ControlReply = { kind: 'unknown-task'; taskId: string };

export interface UploaderOptions {
  homeDir: string;
  /** Interface to listen on. */
  host: string;
  /** 0 = any free port. */
  port: number;
  /** Host peers dial (defaults to `host`). */
  advertiseHost?: string;
  /** Concurrent uploads (default: `uploadSlotsFor` the --totallimit, as the scheduler assumes). */
  uploadLimit?: number;
  /** Upload (TX) limit of this node in bytes/s; 0 = unlimited. */
  totalLimitBytesPerSec?: number;
  unlistAfterMs?: number;
  /** 0 = never exit on idle (an uploader hosted by a long-lived process). */
  idleExitMs?: number;
  residualMaxAgeMs?: number;
  /** Test-only fault: flip bytes of every served piece (peers must catch it by digest). */
  corruptUploads?: boolean;
  log?: (level: 'info' | 'warn', message: string) => void;
  /** The core asked to exit after being idle; the lock is already released. */
  onIdleExit?: () => void;
  /**
   * The control token of a lock the spawning dfget already wrote for this process (see
   * uploader-lock.ts); the uploader adopts that lock instead of taking a new one.
   */
  presetToken?: string;
}

export interface UploaderStats {
  servedPieces: number;
  servedBytes: number;
  refusedRequests: number;
  badFrames: number;
  listedTasks: number;
  seededTasks: number;
}

export interface UploaderHandle {
  /** `host:port` peers dial. */
  readonly addr: string;
  readonly port: number;
  readonly lock: UploaderLock;
  listTask(task: Omit<Extract<ControlMsg, { kind: 'list-task' }>, 'kind'>): void;
  /** Returns false when the task is not listed (list it again with all its pieces). */
  havePiece(taskId: string, piece: number): boolean;
  stats(): UploaderStats;
  close(): Promise<void>;
}

/** Another live uploader already serves this home; `lock` says where. */
export class UploaderBusyError extends Error {
  constructor(readonly lock: UploaderLock) {
    super(`another uploader (pid ${lock.pid}, ${lock.addr}) already serves this home`);
  }
}

interface ServedTask { fileName: string; totalBytes: number; pieceSizeBytes: number; pieceCount: number }

export async function startUploader(opts: UploaderOptions): Promise<UploaderHandle> {
  const dataDir = join(opts.homeDir, 'data');
  await fs.mkdir(dataDir, { recursive: true });
  await fs.mkdir(join(opts.homeDir, 'meta'), { recursive: true });
  const log = opts.log ?? (() => {});
  const core = new Uploader({
    ...DEFAULT_UPLOADER,
    uploadLimit: opts.uploadLimit ?? uploadSlotsFor(DEFAULT_CONFIG, opts.totalLimitBytesPerSec ?? 0),
    unlistAfterMs: opts.unlistAfterMs ?? DEFAULT_UPLOADER.unlistAfterMs,
    idleExitMs: opts.idleExitMs ?? DEFAULT_UPLOADER.idleExitMs,
    // A requester is a data connection here; dfget keeps one per source, so this caps each peer.
    perRequesterLimit: DEFAULT_CONFIG.peerDownLimit,
  });
  const txBucket = new TokenBucket(opts.totalLimitBytesPerSec ?? 0);
  const tasks = new Map<string, ServedTask>();
  const conns = new Map<string, WebSocket>();
  const stats: UploaderStats = { servedPieces: 0, servedBytes: 0, refusedRequests: 0, badFrames: 0, listedTasks: 0, seededTasks: 0 };
  // Created as soon as the port is known (below), before any control message can be handled.
  let seeder: Seeder | undefined;
  let nextConnId = 0;
  let timer: NodeJS.Timeout | undefined;
  let closing: Promise<void> | undefined;

  const feed = (input: UploaderInput): void => {
    if (closing) return;
    applyAndDrain(core, monotonicNowMs(), input, onEffect);
    schedule();
  };
  const schedule = (): void => {
    clearTimeout(timer);
    const deadline = core.nextDeadlineMs();
    if (deadline === null || closing) return;
    timer = setTimeout(() => { fireDue(core, monotonicNowMs(), onEffect); schedule(); }, Math.max(0, deadline - monotonicNowMs()) + 1);
    timer.unref();
  };
  const onEffect = (effect: UploaderEffect): void => {
    switch (effect.kind) {
      case 'serve':
        void serve(effect.to, effect.requestId, effect.taskId, effect.piece);
        break;
      case 'refuse': {
        stats.refusedRequests++;
        const ws = conns.get(effect.to);
        if (ws) sendJson(ws, { kind: 'piece-refused', requestId: effect.requestId, reason: effect.reason });
        break;
      }
      case 'unlisted':
        tasks.delete(effect.taskId);
        seeder?.unseed(effect.taskId);
        log('info', `unlisted task ${effect.taskId} (not requested for a while)`);
        break;
      case 'exit':
        log('info', 'idle: exiting');
        void close().then(() => opts.onIdleExit?.());
        break;
    }
  };

  const serve = async (connId: string, requestId: number, taskId: string, piece: number): Promise<void> => {
    const ws = conns.get(connId);
    const task = tasks.get(taskId);
    const finished = (): void => feed({ kind: 'upload-finished', requestId, from: connId });
    try {
      if (!ws || !task) return;
      const startByte = piece * task.pieceSizeBytes;
      const sizeBytes = Math.min(task.pieceSizeBytes, task.totalBytes - startByte);
      // A finished download moves its data file right after listing the `.server` backup; a
      // request racing that update finds the backup instead.
      const bytes = await readRange(join(dataDir, task.fileName), startByte, sizeBytes)
        ?? await readRange(join(dataDir, `${taskId}.server`), startByte, sizeBytes);
      if (bytes === null) {
        stats.refusedRequests++;
        log('warn', `piece ${piece} of ${taskId} is listed but ${task.fileName} cannot be read; refusing`);
        sendJson(ws, { kind: 'piece-refused', requestId, reason: 'missing' });
        return;
      }
      if (opts.corruptUploads && bytes.length > 0) {
        bytes[0] ^= 0xff;
        bytes[bytes.length >> 1] ^= 0x5a;
      }
      await throttle([txBucket], sizeBytes);
      if (ws.readyState !== ws.OPEN) return;
      const frame = encodePieceFrame({ kind: 'piece-data', requestId, taskId, piece, sizeBytes }, bytes);
      await new Promise<void>((resolve) => ws.send(frame, { binary: true }, () => resolve()));
      stats.servedPieces++;
      stats.servedBytes += sizeBytes;
    } catch (err) {
      log('warn', `serving piece ${piece} of ${taskId} failed: ${(err as Error).message}`);
    } finally {
      finished();
    }
  };

  const onData = (ws: WebSocket): void => {
    const connId = `c${nextConnId++}`;
    conns.set(connId, ws);
    ws.on('message', (data: RawData, isBinary: boolean) => {
      const reject = (why: string): void => { stats.badFrames++; ws.close(CLOSE_BAD_REQUEST, why.slice(0, 120)); };
      if (isBinary) return reject('peers send only text piece-request frames');
      const parsed = parseJsonSafe(rawToBuffer(data).toString('utf8'));
      if (!parsed.ok) return reject(parsed.error.message);
      const decoded = decodeDataPlane(parsed.msg);
      if (!decoded.ok) return reject(`${decoded.error.path}: ${decoded.error.message}`);
      const msg = decoded.msg;
      if (msg.kind !== 'piece-request') return reject(`expected piece-request, got ${msg.kind}`);
      if (!isTaskId(msg.taskId)) {
        stats.refusedRequests++;
        sendJson(ws, { kind: 'piece-refused', requestId: msg.requestId, reason: 'missing' });
        return;
      }
      feed({ kind: 'piece-request', from: connId, requestId: msg.requestId, taskId: msg.taskId, piece: msg.piece });
    });
    ws.on('close', () => conns.delete(connId));
    ws.on('error', () => ws.terminate());
  };

  const listTask = (msg: Omit<Extract<ControlMsg, { kind: 'list-task' }>, 'kind'>): void => {
    if (!isTaskId(msg.taskId) || !DATA_FILE_NAME.test(msg.fileName) || !validLayout(msg)) {
      throw new Error(`invalid list-task for ${String(msg.taskId).slice(0, 80)}`);
    }
    // A task listed again is being downloaded again (or its file moved): it is seeded only once
    // its owner says it is complete, after this list-task and its pieces.
    seeder?.unseed(msg.taskId);
    tasks.set(msg.taskId, { fileName: msg.fileName, totalBytes: msg.totalBytes, pieceSizeBytes: msg.pieceSizeBytes, pieceCount: msg.pieceCount });
    feed({ kind: 'list-task', taskId: msg.taskId, pieceCount: msg.pieceCount });
  };
  /** Returns false when the task is not listed (never, or unlisted after going unused). */
  const havePiece = (taskId: string, piece: number): boolean => {
    if (!tasks.has(taskId)) return false;
    if (Number.isSafeInteger(piece)) feed({ kind: 'have-piece', taskId, piece });
    return true;
  };

  const seedTask = (msg: Record<string, unknown>): void => {
    const checked = checkSeedTask(msg);
    if (typeof checked === 'string') throw new Error(`invalid seed-task: ${checked}`);
    const served = tasks.get(checked.taskId);
    if (!served || !Array.from({ length: served.pieceCount }, (_, p) => p).every((p) => core.holds(checked.taskId, p))) {
      log('warn', `not seeding ${checked.taskId}: it is not listed with every piece`);
      return;
    }
    const uploadRateBytesPerSec = checked.uploadRateBytesPerSec ?? (opts.totalLimitBytesPerSec ?? 0);
    seeder?.seed({
      ...checked, totalBytes: served.totalBytes, pieceSizeBytes: served.pieceSizeBytes, pieceCount: served.pieceCount,
      ...(uploadRateBytesPerSec > 0 ? { uploadRateBytesPerSec } : {}),
    });
    log('info', `seeding ${checked.taskId} via ${checked.supernodes.join(',')}`);
  };

  const onControl = (ws: WebSocket): void => {
    ws.on('message', (data: RawData, isBinary: boolean) => {
      const parsed = isBinary ? null : parseJsonSafe(rawToBuffer(data).toString('utf8'));
      const msg = parsed?.ok ? parsed.msg as ControlMsg : null;
      try {
        if (msg?.kind === 'list-task') listTask(msg);
        else if (msg?.kind === 'have-piece') {
          // A long download nobody asked for was unlisted meanwhile: ask its owner for the full list again.
          if (!havePiece(msg.taskId, msg.piece) && isTaskId(msg.taskId)) sendJson(ws, { kind: 'unknown-task', taskId: msg.taskId });
        }
        else if (msg?.kind === 'seed-task') seedTask(msg as unknown as Record<string, unknown>);
        else throw new Error('unknown control message');
      } catch (err) {
        ws.close(CLOSE_BAD_REQUEST, (err as Error).message.slice(0, 120));
      }
    });
    ws.on('error', () => ws.terminate());
  };

  const lock: UploaderLock = { pid: process.pid, port: 0, addr: '', token: opts.presetToken ?? newControlToken(), startedAtMs: Date.now() };
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_TEXT_FRAME_BYTES });
  const server: Server = createServer((req, res) => {
    res.writeHead(req.url === '/healthz' ? 200 : 404, { 'content-type': 'text/plain' });
    res.end(req.url === '/healthz' ? 'ok' : 'not found');
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://uploader');
    if (url.pathname === DATA_PATH) {
      wss.handleUpgrade(req, socket, head, onData);
    } else if (url.pathname === CONTROL_PATH && isLoopback(req.socket.remoteAddress) && tokenMatches(url.searchParams.get('token'), lock.token)) {
      wss.handleUpgrade(req, socket, head, onControl);
    } else {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => { server.off('error', reject); resolve(); });
  });
  const address = server.address();
  lock.port = typeof address === 'object' && address ? address.port : opts.port;
  lock.addr = `${opts.advertiseHost ?? opts.host}:${lock.port}`;
  // The supernode accepts peer ids of A-Z a-z 0-9 . _ : - only.
  const seederPeerId = `${hostname().replace(/[^A-Za-z0-9._:-]/g, '-').slice(0, 100)}-seed-${lock.port}-${randomBytes(4).toString('hex')}`;
  seeder = new Seeder(seederPeerId, lock.addr, (level, message) => log(level, message));
  const preset = opts.presetToken !== undefined ? await readLock(opts.homeDir) : null;
  const adopted = preset !== null && preset.pid === process.pid && preset.token === lock.token && preset.port === lock.port;
  if (adopted) lock.startedAtMs = preset.startedAtMs;
  const holder = adopted ? null : await acquireLock(opts.homeDir, lock).catch(async (err: unknown) => {
    await new Promise((resolve) => server.close(resolve));
    throw err;
  });
  if (holder) {
    await new Promise((resolve) => server.close(resolve));
    throw new UploaderBusyError(holder);
  }

  const gc = async (): Promise<void> => {
    const inUse = new Set([...tasks.values()].map((t) => t.fileName));
    const removed = await collectResidualFiles(dataDir, opts.residualMaxAgeMs ?? RESIDUAL_MAX_AGE_MS, inUse);
    if (removed.length > 0) log('info', `removed ${removed.length} residual data file(s) older than the limit`);
  };
  void gc();
  const gcTimer = setInterval(() => void gc(), GC_INTERVAL_MS);
  gcTimer.unref();
  schedule();
  log('info', `uploader pid ${process.pid} serving ${lock.addr}`);

  const close = (): Promise<void> => {
    closing ??= (async () => {
      clearTimeout(timer);
      clearInterval(gcTimer);
      seeder?.close();
      await releaseLock(opts.homeDir, lock);
      for (const ws of wss.clients) ws.close(CLOSE_SHUTTING_DOWN, 'uploader exiting');
      await new Promise((resolve) => server.close(resolve));
      for (const ws of wss.clients) ws.terminate();
    })();
    return closing;
  };

  return {
    addr: lock.addr,
    port: lock.port,
    lock,
    listTask,
    havePiece,
    stats: () => ({ ...stats, listedTasks: core.listedTasks, seededTasks: seeder?.seededTasks ?? 0 }),
    close,
  };
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

const SUPERNODE_ADDR = /^[A-Za-z0-9._\-[\]:]{1,255}:[0-9]{1,5}$/;
const MAX_SUPERNODES = 16;

/** The seed-task fields, checked: the task spec must decode and hash to the taskId. */
function checkSeedTask(msg: Record<string, unknown>): Omit<Extract<ControlMsg, { kind: 'seed-task' }>, 'kind'> | string {
  if (!isTaskId(msg.taskId)) return 'taskId must be 64 hex digits';
  const decoded = decodePeerToSupernode({ kind: 'register', taskId: msg.taskId, task: msg.task, uploadAddr: '', have: [], blacklist: [], pattern: 'p2p' });
  if (!decoded.ok || decoded.msg.kind !== 'register') return `task ${decoded.ok ? '' : decoded.error.message}`;
  const task = decoded.msg.task;
  try {
    if (taskIdFor(task) !== msg.taskId) return 'the task does not hash to its taskId';
  } catch (err) {
    return (err as Error).message;
  }
  const supernodes = msg.supernodes;
  if (!Array.isArray(supernodes) || supernodes.length === 0 || supernodes.length > MAX_SUPERNODES
    || !supernodes.every((a) => typeof a === 'string' && SUPERNODE_ADDR.test(a))) {
    return `supernodes must be 1-${MAX_SUPERNODES} host:port addresses`;
  }
  const rate = msg.uploadRateBytesPerSec;
  if (rate !== undefined && !(Number.isSafeInteger(rate) && (rate as number) > 0)) return 'uploadRateBytesPerSec must be a whole number > 0';
  const fileDigest = msg.fileDigest;
  if (fileDigest !== undefined && !(typeof fileDigest === 'string' && /^sha256:[0-9a-f]{64}$/.test(fileDigest))) return 'fileDigest must be sha256:<hex>';
  return {
    taskId: msg.taskId, task, supernodes: [...supernodes] as string[],
    ...(rate !== undefined ? { uploadRateBytesPerSec: rate as number } : {}),
    ...(fileDigest !== undefined ? { fileDigest: fileDigest as string } : {}),
  };
}

function validLayout(t: { totalBytes: number; pieceSizeBytes: number; pieceCount: number }): boolean {
  return Number.isSafeInteger(t.totalBytes) && t.totalBytes >= 0 && Number.isSafeInteger(t.pieceSizeBytes) && t.pieceSizeBytes > 0
    && t.pieceCount === Math.ceil(t.totalBytes / t.pieceSizeBytes);
}

function isLoopback(address: string | undefined): boolean {
  return address === '127.0.0.1' || address === '::1' || address === '::ffff:127.0.0.1';
}

function tokenMatches(given: string | null, expected: string): boolean {
  if (given === null || given.length !== expected.length) return false;
  return timingSafeEqual(Buffer.from(given), Buffer.from(expected));
}
