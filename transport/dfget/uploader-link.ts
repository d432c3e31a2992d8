/**
 * dfget's side of "one uploader per home dir": find the live uploader from the lock file or start
 * one in the background (detached, so it outlives this dfget and serves until idle; the lock is
 * written for it at once, see uploader-lock.ts), then tell it over the loopback control channel
 * which data file holds which task, which pieces are verified, the fleet's settings the supernode
 * sent (so upload slots and unlist time follow the supernode, not this process) and, once a
 * download is complete, to seed it (register it with the supernodes after this dfget exits). If the uploader goes away
 * mid-download (it was killed, or went idle just as we connected), the link starts or finds a new
 * one and replays what it had told the old one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { dirname, extname, join, resolve } from 'node:path';
import { makeDirsSync } from '../make-dirs.ts';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { createServer } from 'node:net';
import type { PeerSettings } from '../../core/settings.ts';
import { CONTROL_PATH, type ControlMsg, type ControlReply, type ListTaskMsg, type SeedTaskMsg } from '../uploader/control-messages.ts';
import { acquireLock, lockIsLive, newControlToken, readLock, waitUntilAnswering, type UploaderLock } from '../uploader/uploader-lock.ts';
import { sleep } from '../real-timer.ts';
import type { LogFn } from './home.ts';

/**
 * The uploader runs in the form this module runs in: its bundle beside this bundle (what the
 * shipped `dfget` and `dfdaemon` are: dist/bundle/transport/…/*.mjs, transport/write-bundles.ts),
 * the compiled module under plain node, the TypeScript file under tsx (development and tests).
 * Bundled or not, the entry sits at transport/uploader/main.* relative to transport/dfget/.
 */
const HERE = fileURLToPath(import.meta.url);
const COMPILED = !HERE.endsWith('.ts');
const UPLOADER_MAIN = resolve(dirname(HERE), '..', 'uploader', `main${extname(HERE)}`);
const UPLOADER_NODE_ARGS = COMPILED ? [] : ['--import', import.meta.resolve('tsx')];

export interface UploaderSpawnOptions {
  homeDir: string;
  host: string;
  totalLimitBytesPerSec: number;
  /** Passed as `--idle-exit` (e.g. "5min"); tests shorten it. */
  idleExit: string;
  /** Passed as `--data-max` (e.g. "20GiB" or "90%") to an uploader this link starts. */
  dataMax?: string;
}

/** Longest a download waits for its uploader to make room in the data dir before it writes anyway. */
const MAKE_ROOM_WAIT_MS = 10_000;

interface ListedTask { msg: ListTaskMsg; pieces: Set<number>; seed?: SeedTaskMsg }

/** Keys remembered per link for replay to a restarted uploader (a download sees one or two). */
const MAX_TRUSTED_KEYS = 64;

export class UploaderLink {
  private ws: WebSocket | null = null;
  private connecting: Promise<void> | null = null;
  private readonly listed = new Map<string, ListedTask>();
  private closed = false;
  private lock: UploaderLock | null = null;
  private settings: PeerSettings | null = null;
  /** Supernode keys this home's downloads were told, by task, replayed to a new uploader. */
  private readonly trusted: { taskId: string; key: string }[] = [];
  private nextRequestId = 1;
  private readonly roomWaiters = new Map<number, () => void>();

  constructor(private readonly opts: UploaderSpawnOptions, private readonly log: LogFn) {}

  /**
   * Find this home's uploader, or start one, and return the address peers dial. Does not wait
   * for a just-started uploader to boot: updates queue in this link until it answers.
   */
  async start(): Promise<string> {
    this.lock = await this.findOrStart();
    void this.connect().catch((err: Error) => this.log('warn', `uploader unavailable: ${err.message}`));
    return this.lock.addr;
  }

  /** Resolves once the control channel is open (tests and callers that must know). */
  connect(): Promise<void> {
    if (this.ws?.readyState === WebSocket.OPEN) return Promise.resolve();
    this.connecting ??= this.establish().finally(() => { this.connecting = null; });
    return this.connecting;
  }

  listTask(msg: Omit<ListTaskMsg, 'kind'>): void {
    const full: ListTaskMsg = { kind: 'list-task', ...msg };
    const entry = this.listed.get(msg.taskId);
    if (entry) {
      entry.msg = full;
      delete entry.seed;
    } else {
      this.listed.set(msg.taskId, { msg: full, pieces: new Set() });
    }
    this.send(full);
  }

  /** The task is complete and every piece listed: the uploader registers it with the supernodes. */
  seedTask(msg: Omit<SeedTaskMsg, 'kind'>): void {
    const full: SeedTaskMsg = { kind: 'seed-task', ...msg };
    const entry = this.listed.get(msg.taskId);
    if (entry) entry.seed = full;
    this.send(full);
  }

  /** The supernode's settings for this host: the uploader's slots and unlist time follow them. */
  configure(settings: PeerSettings): void {
    this.settings = settings;
    this.send({ kind: 'configure', settings });
  }

  /** Requests for `taskId` with grants signed by `key` (its supernode's key) are to be served. */
  trustKey(taskId: string, key: string): void {
    if (!this.trusted.some((t) => t.taskId === taskId && t.key === key)) {
      if (this.trusted.length >= MAX_TRUSTED_KEYS) this.trusted.shift();
      this.trusted.push({ taskId, key });
    }
    this.send({ kind: 'trust-key', taskId, key });
  }

  /**
   * Ask the uploader to make room in the data dir for `bytes` about to be written into
   * `fileName` (`--data-max`); resolves once it did, or when the uploader cannot be reached or
   * takes longer than it should (the download then goes on: a full disk fails it loudly anyway).
   */
  async makeRoom(fileName: string, bytes: number, connectWaitMs: number): Promise<void> {
    await Promise.race([this.connect().catch(() => {}), sleep(connectWaitMs, undefined, false)]);
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    const requestId = this.nextRequestId++;
    await new Promise<void>((resolveRoom) => {
      const timer = setTimeout(() => {
        this.log('warn', `the uploader did not make room for ${fileName} within ${MAKE_ROOM_WAIT_MS} ms; writing anyway`);
        done();
      }, MAKE_ROOM_WAIT_MS);
      const done = (): void => {
        clearTimeout(timer);
        this.roomWaiters.delete(requestId);
        resolveRoom();
      };
      this.roomWaiters.set(requestId, done);
      ws.send(JSON.stringify({ kind: 'make-room', requestId, fileName, bytes } satisfies ControlMsg));
    });
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
    let lock = this.lock;
    if (!lock || !await waitUntilAnswering(lock)) {
      // A closed link (its download is over) starts no uploader, even if the one it knew is gone.
      if (this.closed) return;
      lock = await this.findOrStart();
      if (this.lock && lock.addr !== this.lock.addr) {
        this.log('warn', `this node's uploader moved from ${this.lock.addr} to ${lock.addr}; peers told the old address cannot fetch from it`);
      }
      this.lock = lock;
      if (!await waitUntilAnswering(lock)) throw new Error(`the uploader (pid ${lock.pid}) did not start; see ${join(this.opts.homeDir, 'logs', 'uploader.err')}`);
    }
    if (this.closed) return;
    const ws = new WebSocket(`ws://127.0.0.1:${lock.port}${CONTROL_PATH}?token=${lock.token}`);
    await new Promise<void>((resolveOpen, reject) => {
      ws.once('open', () => resolveOpen());
      ws.once('error', reject);
    });
    ws.on('error', () => ws.terminate());
    ws.on('message', (data: Buffer) => {
      let reply: ControlReply | null = null;
      try {
        reply = JSON.parse(data.toString()) as ControlReply;
      } catch {
        return;
      }
      if (reply?.kind === 'room-made') return this.roomWaiters.get(reply.requestId)?.();
      const entry = reply?.kind === 'unknown-task' ? this.listed.get(reply.taskId) : undefined;
      if (entry) this.replay(ws, entry);
    });
    ws.on('close', () => {
      if (this.ws === ws) this.ws = null;
      for (const done of [...this.roomWaiters.values()]) done();
      if (!this.closed) this.log('warn', 'uploader control channel closed; will reconnect on next update');
    });
    this.ws = ws;
    if (this.settings) ws.send(JSON.stringify({ kind: 'configure', settings: this.settings } satisfies ControlMsg));
    for (const { taskId, key } of this.trusted) ws.send(JSON.stringify({ kind: 'trust-key', taskId, key } satisfies ControlMsg));
    for (const entry of this.listed.values()) this.replay(ws, entry);
    if (this.closed) ws.close();
  }

  private replay(ws: WebSocket, { msg, pieces, seed }: ListedTask): void {
    ws.send(JSON.stringify(msg));
    for (const piece of pieces) ws.send(JSON.stringify({ kind: 'have-piece', taskId: msg.taskId, piece }));
    if (seed) ws.send(JSON.stringify(seed));
  }

  /** The live uploader's lock, or a lock written for a freshly spawned one. */
  private async findOrStart(): Promise<UploaderLock> {
    const existing = await readLock(this.opts.homeDir);
    if (existing && await lockIsLive(existing)) return existing;
    const port = await freePort(this.opts.host);
    const token = newControlToken();
    const child = this.spawnUploader(port, token);
    const mine: UploaderLock = { pid: child.pid!, port, addr: `${this.opts.host}:${port}`, token, startedAtMs: Date.now() };
    const holder = await acquireLock(this.opts.homeDir, mine);
    if (holder) {
      // Another dfget started one a moment earlier: ours must not run beside it.
      child.kill();
      return holder;
    }
    this.log('info', `started background uploader pid ${child.pid} on ${mine.addr}`);
    return mine;
  }

  private spawnUploader(port: number, token: string): ChildProcess {
    const logDir = join(this.opts.homeDir, 'logs');
    makeDirsSync(logDir);
    const errFd = openSync(join(logDir, 'uploader.err'), 'a');
    const child = spawn(process.execPath, [
      ...UPLOADER_NODE_ARGS, UPLOADER_MAIN,
      '--home', this.opts.homeDir,
      // dfget reaches its uploader's control channel on 127.0.0.1: an uploader that peers dial
      // on another address listens on every interface and advertises that address.
      ...(isLoopbackHost(this.opts.host) ? ['--host', this.opts.host] : ['--host', '0.0.0.0', '--advertise-host', this.opts.host]),
      '--port', String(port),
      '--totallimit', String(this.opts.totalLimitBytesPerSec),
      '--idle-exit', this.opts.idleExit,
      ...(this.opts.dataMax ? ['--data-max', this.opts.dataMax] : []),
    ], { detached: true, stdio: ['ignore', 'ignore', errFd], env: uploaderEnv(token) });
    closeSync(errFd);
    child.unref();
    if (child.pid === undefined) throw new Error('cannot spawn the uploader process');
    return child;
  }
}

/**
 * The uploader's environment: dfget's, with its control token, less NODE_EXTRA_CA_CERTS. The
 * uploader opens no TLS connection (it serves peers and reaches supernodes over plain ws://), and
 * Node 20 reads and parses that bundle at every start: with the system bundle
 * (/etc/ssl/certs/ca-certificates.crt, as on the development machine) 80 ms of CPU per start
 * (`node -e 0`: 0.12 s with it, 0.04 s without), paid by every host that starts an uploader.
 */
function uploaderEnv(token: string): NodeJS.ProcessEnv {
  const { NODE_EXTRA_CA_CERTS: _notNeeded, ...rest } = process.env;
  return { ...rest, DFGET_UPLOADER_TOKEN: token };
}

function isLoopbackHost(host: string): boolean {
  return host === '127.0.0.1' || host === 'localhost' || host === '::1';
}

function freePort(host: string): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}
