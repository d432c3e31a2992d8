/**
 * The uploader of one home dir: serves verified pieces of finished and running downloads to other
 * peers, and keeps finished ones registered with their supernodes. One HTTP server carries the
 * data plane (`/data`, piece-server.ts), the loopback control channel (`/control?token=`,
 * control-messages.ts) and `/healthz`; the seeder (seeder.ts) holds the supernode links.
 *
 * Settings. Upload slots, the per-requester cap, the unlist time and the seeder's back-off are the
 * fleet's: the uploader starts with the defaults (or the settings it is given) and is reconfigured
 * whenever a download of this home (`configure` on the control channel) or one of its own seeded
 * registrations (a supernode's `task-info`) brings a supernode's settings; the config is built by
 * core `uploaderConfigFor` with this node's own `--totallimit` and idle exit, which stay local.
 *
 * Disk: the data dir is kept under `dataLimit` (`--data-max`) and the seed's one-hour rule by
 * data-keeper.ts — at start, periodically, after each finished download and before a download
 * writes (`make-room` on the control channel, answered `room-made`).
 *
 * Lifetime: the core unlists tasks nobody asked for and asks to exit after `idleExitMs` with
 * nothing listed; the lock is released before the port closes. A machine fault (core Uploader or
 * Seeder) is logged at error level and handed to `onFault`: the process exits.
 */
import { timingSafeEqual } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { join } from 'node:path';
import { makeDirs } from '../make-dirs.ts';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { MachineFault } from '../../core/runtime.ts';
import { DEFAULT_PEER_SETTINGS, uploaderConfigFor, type PeerSettings } from '../../core/settings.ts';
import { TokenBucket } from '../../core/token-bucket.ts';
import { DEFAULT_UPLOADER, type UploaderConfig } from '../../core/uploader.ts';
import { newPeerId } from '../peer-id.ts';
import { describeFault } from '../real-timer.ts';
import { CLOSE_BAD_REQUEST, CLOSE_SHUTTING_DOWN, DATA_PATH, MAX_TEXT_FRAME_BYTES, rawToBuffer, sendJson } from '../wire.ts';
import { CONTROL_PATH, parseControlMsg, type ControlMsg, type ListTaskMsg, type SeedTaskMsg } from './control-messages.ts';
import { DataKeeper } from './data-keeper.ts';
import { PieceServer, type PieceServerStats, type UploaderLog } from './piece-server.ts';
import { SeederDriver } from './seeder.ts';
import { acquireLock, newControlToken, releaseLock, type UploaderLock } from './uploader-lock.ts';
import { formatDiskLimit, type DiskLimit } from '../../core/eviction.ts';

export { CONTROL_PATH, DATA_FILE_NAME, type ControlMsg, type ControlReply } from './control-messages.ts';

export interface UploaderOptions {
  homeDir: string;
  /** Interface to listen on. */
  host: string;
  /** 0 = any free port. */
  port: number;
  /** Host peers dial (defaults to `host`). */
  advertiseHost?: string;
  /** Upload (TX) limit of this node in bytes/s; 0 = unlimited. Also scales the upload slots. */
  totalLimitBytesPerSec?: number;
  /** 0 = never exit on idle (an uploader hosted by a long-lived process). */
  idleExitMs?: number;
  /** Fleet settings until a supernode's arrive (default: the core's defaults). */
  settings?: PeerSettings;
  residualMaxAgeMs?: number;
  /** Size limit of `<home>/data` (`--data-max`); default: fill its filesystem to at most 90 %. */
  dataLimit?: DiskLimit;
  /** Test-only fault: flip bytes of every served piece (peers must catch it by digest). */
  corruptUploads?: boolean;
  log?: UploaderLog;
  /** A line per served piece with where its serving time went (PieceServerOptions.onPieceTiming); absent, nothing is timed. */
  onPieceTiming?: (message: string) => void;
  /** The core asked to exit after being idle; the lock is already released. */
  onIdleExit?: () => void;
  /** A core machine faulted; the uploader is already closed (default: log only). */
  onFault?: (fault: MachineFault) => void;
  /**
   * The control token of a lock the spawning dfget already wrote for this process (see
   * uploader-lock.ts); the uploader adopts that lock instead of taking a new one.
   */
  presetToken?: string;
}

export interface UploaderStats extends PieceServerStats {
  listedTasks: number;
  seededTasks: number;
  /** Concurrent uploads and per-requester cap the core runs with now. */
  uploadSlots: number;
  perRequesterLimit: number;
}

export interface UploaderHandle {
  /** `host:port` peers dial. */
  readonly addr: string;
  readonly port: number;
  readonly lock: UploaderLock;
  listTask(task: Omit<ListTaskMsg, 'kind'>): void;
  /** Returns false when the task is not listed (list it again with all its pieces). */
  havePiece(taskId: string, piece: number): boolean;
  /** Accept requests for `taskId` carrying grants signed by `key` (a supernode's grant key). */
  trust(taskId: string, key: string): void;
  stats(): UploaderStats;
  close(): Promise<void>;
}

/** Another live uploader already serves this home; `lock` says where. */
export class UploaderBusyError extends Error {
  constructor(readonly lock: UploaderLock) {
    super(`another uploader (pid ${lock.pid}, ${lock.addr}) already serves this home`);
  }
}

export function startUploader(opts: UploaderOptions): Promise<UploaderHandle> {
  return UploaderServer.start(opts);
}

class UploaderServer implements UploaderHandle {
  private readonly dataDir: string;
  private readonly log: UploaderLog;
  private readonly pieces: PieceServer;
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_TEXT_FRAME_BYTES });
  private readonly server: Server;
  /** Created once the port is known, before any control message can arrive. */
  private seeder!: SeederDriver;
  readonly lock: UploaderLock;
  private readonly keeper: DataKeeper;
  private closing: Promise<void> | undefined;

  private constructor(private readonly opts: UploaderOptions) {
    this.dataDir = join(opts.homeDir, 'data');
    this.log = opts.log ?? (() => {});
    this.pieces = new PieceServer({
      dataDir: this.dataDir, config: this.configFor(opts.settings ?? DEFAULT_PEER_SETTINGS),
      txBucket: new TokenBucket(opts.totalLimitBytesPerSec ?? 0), corruptUploads: opts.corruptUploads ?? false, log: this.log,
      ...(opts.onPieceTiming ? { onPieceTiming: opts.onPieceTiming } : {}),
      onUnlisted: (taskId) => this.seeder.unseed(taskId),
      onIdle: () => {
        this.log('info', 'idle: exiting');
        void this.close().then(() => opts.onIdleExit?.());
      },
      onDataDirRemoved: () => {
        // A standalone uploader exists to serve this home; a hosting process (dfdaemon) keeps its
        // uploader, since its next download makes the directory again.
        if (!opts.onIdleExit) return this.log('warn', `${this.dataDir} was removed`);
        this.log('warn', `${this.dataDir} was removed: nothing left to serve, exiting`);
        void this.close().then(() => opts.onIdleExit?.());
      },
      onFault: (fault) => this.fault(fault),
    });
    this.keeper = new DataKeeper({
      dataDir: this.dataDir, use: this.pieces, log: this.log,
      ...(opts.dataLimit ? { limit: opts.dataLimit } : {}), ...(opts.residualMaxAgeMs !== undefined ? { residualMaxAgeMs: opts.residualMaxAgeMs } : {}),
    });
    this.lock = { pid: process.pid, port: 0, addr: '', token: opts.presetToken ?? newControlToken(), startedAtMs: Date.now() };
    this.server = createServer((req, res) => {
      res.writeHead(req.url === '/healthz' ? 200 : 404, { 'content-type': 'text/plain' });
      res.end(req.url === '/healthz' ? 'ok' : 'not found');
    });
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(req, socket, head));
  }

  static async start(opts: UploaderOptions): Promise<UploaderServer> {
    await makeDirs(join(opts.homeDir, 'data'));
    await makeDirs(join(opts.homeDir, 'meta'));
    const uploader = new UploaderServer(opts);
    await uploader.listen();
    await uploader.takeLock();
    uploader.keeper.start();
    const config = uploader.pieces.config;
    uploader.log('info', `uploader pid ${process.pid} serving ${uploader.addr}; until a supernode's settings arrive, `
      + `${opts.settings ? 'the settings it was started with' : 'the default settings'}: ${config.uploadLimit} upload slots, `
      + `${config.perRequesterLimit} per requester, unlist after ${config.unlistAfterMs} ms; data dir limit ${formatDiskLimit(uploader.keeper.limit)}`);
    return uploader;
  }

  get addr(): string { return this.lock.addr; }
  get port(): number { return this.lock.port; }

  listTask(msg: Omit<ListTaskMsg, 'kind'>): void {
    // A task listed again is being downloaded again (or its file moved): it is seeded only once
    // its owner says it is complete, after this list-task and its pieces.
    this.seeder.unseed(msg.taskId);
    this.pieces.listTask(msg);
    this.keeper.listed(msg.fileName);
    // A finished download's backup is listed: the data dir may be over its limit now.
    if (msg.fileName.endsWith('.server')) void this.keeper.collect('download finished');
  }

  havePiece(taskId: string, piece: number): boolean { return this.pieces.havePiece(taskId, piece); }
  trust(taskId: string, key: string): void { this.pieces.trust(taskId, key); }

  stats(): UploaderStats {
    const config = this.pieces.config;
    return {
      ...this.pieces.stats, listedTasks: this.pieces.listedTasks, seededTasks: this.seeder.seededTasks,
      uploadSlots: config.uploadLimit, perRequesterLimit: config.perRequesterLimit ?? 0,
    };
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.keeper.close();
      this.pieces.close();
      this.seeder.close();
      await releaseLock(this.opts.homeDir, this.lock);
      for (const ws of this.wss.clients) ws.close(CLOSE_SHUTTING_DOWN, 'uploader exiting');
      await new Promise((resolve) => this.server.close(resolve));
      for (const ws of this.wss.clients) ws.terminate();
    })();
    return this.closing;
  }

  private configFor(settings: PeerSettings): UploaderConfig {
    return uploaderConfigFor(settings, this.opts.totalLimitBytesPerSec ?? 0, this.opts.idleExitMs ?? DEFAULT_UPLOADER.idleExitMs);
  }

  /** A supernode's settings, brought by a download of this home: uploads and the seeder follow them. */
  private configure(settings: PeerSettings, from: string): void {
    this.seeder.configure(settings);
    this.configureUploads(settings, from);
  }

  /** Upload slots, per-requester cap and unlist time from `settings` (the seeder adopted them itself when they came from it). */
  private configureUploads(settings: PeerSettings, from: string): void {
    const config = this.configFor(settings);
    const before = this.pieces.config;
    this.pieces.configure(config);
    if (before.uploadLimit !== config.uploadLimit || before.perRequesterLimit !== config.perRequesterLimit || before.unlistAfterMs !== config.unlistAfterMs) {
      this.log('info', `settings from ${from}: ${config.uploadLimit} upload slots, ${config.perRequesterLimit} per requester, `
        + `unlist after ${config.unlistAfterMs} ms`);
    }
  }

  private fault(fault: MachineFault): void {
    this.log('error', `${describeFault(fault)}; the uploader stops`);
    void this.close().then(() => this.opts.onFault?.(fault));
  }

  private async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port, this.opts.host, () => { this.server.off('error', reject); resolve(); });
    });
    const address = this.server.address();
    this.lock.port = typeof address === 'object' && address ? address.port : this.opts.port;
    this.lock.addr = `${this.opts.advertiseHost ?? this.opts.host}:${this.lock.port}`;
    this.seeder = new SeederDriver(newPeerId(`seed-${this.lock.port}`), this.lock.addr, this.opts.settings ?? DEFAULT_PEER_SETTINGS, {
      log: this.log,
      onSettings: (settings, supernode) => this.configureUploads(settings, `supernode ${supernode}`),
      onTrust: (taskId, key) => this.pieces.trust(taskId, key),
      onFault: (fault) => this.fault(fault),
    });
  }

  /**
   * Take the home's lock. The one a spawning dfget wrote for this process (its pid, the preset
   * token) is ours already: acquireLock says so whichever of the two wrote it first.
   */
  private async takeLock(): Promise<void> {
    let holder: UploaderLock | null;
    try {
      holder = await acquireLock(this.opts.homeDir, this.lock);
    } catch (err) {
      await this.shutDownUnlocked();
      throw err;
    }
    if (holder) {
      await this.shutDownUnlocked();
      throw new UploaderBusyError(holder);
    }
  }

  private async shutDownUnlocked(): Promise<void> {
    this.pieces.close();
    this.seeder.close();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://uploader');
    if (url.pathname === DATA_PATH) {
      this.wss.handleUpgrade(req, socket, head, (ws) => this.pieces.accept(ws));
    } else if (url.pathname === CONTROL_PATH && isLoopback(req.socket.remoteAddress) && tokenMatches(url.searchParams.get('token'), this.lock.token)) {
      this.wss.handleUpgrade(req, socket, head, (ws) => this.acceptControl(ws));
    } else {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
    }
  }

  private acceptControl(ws: WebSocket): void {
    ws.on('message', (data: RawData, isBinary: boolean) => {
      const msg = isBinary ? 'control messages are JSON text' : parseControlMsg(rawToBuffer(data).toString('utf8'));
      if (typeof msg === 'string') {
        ws.close(CLOSE_BAD_REQUEST, msg.slice(0, 120));
        return;
      }
      this.onControl(ws, msg);
    });
    ws.on('error', () => ws.terminate());
  }

  private onControl(ws: WebSocket, msg: ControlMsg): void {
    switch (msg.kind) {
      case 'list-task': return this.listTask(msg);
      case 'have-piece':
        // A long download nobody asked for was unlisted meanwhile: ask its owner for the full list again.
        if (!this.havePiece(msg.taskId, msg.piece)) sendJson(ws, { kind: 'unknown-task', taskId: msg.taskId });
        return;
      case 'seed-task': return this.seedTask(msg);
      case 'configure': return this.configure(msg.settings, 'a download of this home');
      case 'trust-key': return this.pieces.trust(msg.taskId, msg.key);
      case 'make-room':
        void this.keeper.makeRoom(msg.fileName, msg.bytes).then(() => {
          if (ws.readyState === ws.OPEN) sendJson(ws, { kind: 'room-made', requestId: msg.requestId });
        });
        return;
    }
  }

  private seedTask(msg: SeedTaskMsg): void {
    const layout = this.pieces.completeLayout(msg.taskId);
    if (!layout) {
      this.log('warn', `not seeding ${msg.taskId}: it is not listed with every piece`);
      return;
    }
    const uploadRateBytesPerSec = msg.uploadRateBytesPerSec ?? (this.opts.totalLimitBytesPerSec ?? 0);
    this.seeder.seed({
      taskId: msg.taskId, task: msg.task, supernodes: msg.supernodes, ...layout,
      ...(msg.fileDigest !== undefined ? { fileDigest: msg.fileDigest } : {}),
      ...(uploadRateBytesPerSec > 0 ? { uploadRateBytesPerSec } : {}),
    });
    this.log('info', `seeding ${msg.taskId} via ${msg.supernodes.join(',')}`);
  }
}

function isLoopback(address: string | undefined): boolean {
  return address === '127.0.0.1' || address === '::1' || address === '::ffff:127.0.0.1';
}

function tokenMatches(given: string | null, expected: string): boolean {
  if (given === null || given.length !== expected.length) return false;
  return timingSafeEqual(Buffer.from(given), Buffer.from(expected));
}
