/**
 * The supernode process's driver: one HTTP server carrying the control plane (`/peer`), the data
 * plane (`/data`), `/healthz` and `/metrics`, around two core machines — the `Supernode`
 * (scheduling) and an `Uploader` (the CDN cache as a special peer) — and the CDN.
 *
 * Theory of operation. Every frame from the network is decoded by core/decode.ts before a
 * machine sees it; a frame that does not decode closes its connection with 4400 and a reason
 * (the peer is broken or hostile, and nothing it says afterwards can be trusted), a well-formed
 * message naming a malformed task gets a `task-failed` / `piece-refused` answer. Machines are fed
 * only through `applyAndDrain` / `fireDue`, with one timer per machine armed at its
 * `nextDeadlineMs()`; effects become frames, CDN work or log lines. The driver decides nothing:
 * it moves bytes, checks identities and keeps every piece of disk access behind a validated
 * taskId.
 *
 *   network / CDN event                    machine input
 *   /peer text frame (decoded)             Supernode peer-message
 *   /peer close                            Supernode peer-gone
 *   CDN progress                           Supernode cdn-*, auth-result (+ Uploader list/have)
 *   /data piece-request (decoded)          Uploader piece-request
 *   piece frame flushed                    Uploader upload-finished
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { decodeDataPlane, decodeJson, decodePeerToSupernode } from '../../core/decode.ts';
import { applyAndDrain, fireDue } from '../../core/drive.ts';
import { SUPERNODE, type PeerToSupernode, type SupernodeToPeer } from '../../core/protocol.ts';
import { Supernode } from '../../core/supernode.ts';
import type { SupernodeEffect, SupernodeInput } from '../../core/supernode-io.ts';
import { TokenBucket } from '../../core/token-bucket.ts';
import { Uploader, type UploaderEffect, type UploaderInput } from '../../core/uploader.ts';
import { Cdn } from '../cdn/cdn.ts';
import { CdnStore } from '../cdn/cdn-store.ts';
import { sleep, SourceClient } from '../cdn/source-client.ts';
import { childRng } from '../../sim/seeded-rng.ts';
import { isTaskId, taskIdFor } from '../task-id.ts';
import {
  CLOSE_BAD_REQUEST, CLOSE_DUPLICATE_PEER, CLOSE_SHUTTING_DOWN, CONTROL_PATH, DATA_PATH, MAX_FRAME_BYTES, pieceFramePrefix,
  sendJson,
} from '../wire.ts';
import type { LogLevel } from './log.ts';
import { BufferPool } from './buffer-pool.ts';
import { renderMetrics } from './metrics.ts';
import type { SupernodeOptions } from './options.ts';

/** Peer ids are opaque but printable; '@' is reserved (SUPERNODE is '@supernode'). */
const PEER_ID_PATTERN = /^[A-Za-z0-9._:-]{1,200}$/;
const CLOSE_INTERNAL_ERROR = 1011;
const SHUTDOWN_GRACE_MS = 1000;

type Log = (level: LogLevel, message: string) => void;

export class SupernodeServer {
  private readonly machine: Supernode;
  private readonly uploader: Uploader;
  private readonly cdn: Cdn;
  private readonly client: SourceClient;
  private readonly limitOut: TokenBucket;
  /** Frame buffers for pieces in flight; enough retained for every upload slot at 4 MiB pieces. */
  private readonly pool: BufferPool;
  private readonly peers = new Map<string, WebSocket>();
  private readonly dataConns = new Map<string, WebSocket>();
  /** The Supernode's timer; the Uploader needs none (nothing unlists or exits on a supernode). */
  private timer: NodeJS.Timeout | undefined;
  private readonly control = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES });
  private readonly data = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES });
  private nextDataConn = 0;
  private servedBytes = 0;
  private piecesServed = 0;
  private piecesRefused = 0;
  private framesRejected = 0;
  private closing = false;
  private dataAddr = '';

  private constructor(private readonly opts: SupernodeOptions, private readonly server: Server, private readonly log: Log, seed: string) {
    this.machine = new Supernode(opts.core, childRng(seed, 'supernode'));
    this.uploader = new Uploader({ uploadLimit: opts.core.supernodeUpLimit, unlistAfterMs: 0, idleExitMs: 0, maxTasks: opts.core.maxTasks, perRequesterLimit: opts.core.peerDownLimit });
    this.client = new SourceClient({ timeoutMs: opts.sourceTimeoutMs, limitIn: new TokenBucket(opts.limitInBytesPerSec) });
    this.limitOut = new TokenBucket(opts.limitOutBytesPerSec);
    this.pool = new BufferPool(opts.core.supernodeUpLimit * 5 * 1024 * 1024);
    this.cdn = new Cdn({
      store: new CdnStore(join(opts.home, 'cdn')), client: this.client, feed: (input) => this.fromCdn(input), log,
      concurrency: opts.cdnConcurrency, pool: this.pool, attempts: 3, retryDelayMs: 250,
    });
    this.control.on('connection', (ws: WebSocket, _req: IncomingMessage, peerId: string) => this.onControl(ws, peerId));
    this.data.on('connection', (ws: WebSocket) => this.onData(ws));
  }

  static async start(opts: SupernodeOptions, log: Log, seed: string): Promise<SupernodeServer> {
    const server = createServer();
    const node = new SupernodeServer(opts, server, log, seed);
    server.on('request', (req, res) => node.onHttp(req, res));
    server.on('upgrade', (req, socket, head) => node.onUpgrade(req, socket as Socket, head));
    server.on('clientError', (_err, socket) => socket.destroy());
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port, opts.host, () => { server.off('error', reject); resolve(); });
    });
    const { port } = server.address() as AddressInfo;
    const host = advertiseHost(opts);
    node.dataAddr = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    log('info', `supernode listening on ${opts.host}:${port} (pieces advertised at ${node.dataAddr}), home ${opts.home}, seed ${seed}`);
    return node;
  }

  get port(): number { return (this.server.address() as AddressInfo).port; }

  async close(): Promise<void> {
    this.closing = true;
    clearTimeout(this.timer);
    this.cdn.close();
    const sockets = [...this.peers.values(), ...this.dataConns.values()];
    const closed = sockets.map((ws) => new Promise<void>((resolve) => ws.once('close', () => resolve())));
    for (const ws of sockets) ws.close(CLOSE_SHUTTING_DOWN, 'supernode shutting down');
    this.server.closeAllConnections();
    // Peers get a moment to answer the close handshake; the rest are cut so the process can exit.
    const grace = setTimeout(() => { for (const ws of sockets) ws.terminate(); }, SHUTDOWN_GRACE_MS);
    await Promise.all([...closed, new Promise<void>((resolve) => this.server.close(() => resolve()))]);
    clearTimeout(grace);
  }

  // ---- machines ----

  private nowMs(): number { return performance.now(); }

  private apply(input: SupernodeInput): void {
    if (this.closing) return;
    try {
      applyAndDrain(this.machine, this.nowMs(), input, (effect) => this.onEffect(effect));
    } catch (err) {
      this.log('error', `supernode machine failed on ${input.kind}: ${(err as Error).stack ?? err}`);
      if (input.kind === 'peer-message') this.peers.get(input.from)?.close(CLOSE_INTERNAL_ERROR, 'internal error');
    }
    this.arm();
  }

  private fire(): void {
    try {
      fireDue(this.machine, this.nowMs(), (effect) => this.onEffect(effect));
    } catch (err) {
      this.log('error', `supernode machine failed on timeout: ${(err as Error).stack ?? err}`);
    }
    this.arm();
  }

  private applyUploader(input: UploaderInput): void {
    applyAndDrain(this.uploader, this.nowMs(), input, (effect) => this.onUploaderEffect(effect));
  }

  /** One timer, always at the machine's earliest deadline. */
  private arm(): void {
    clearTimeout(this.timer);
    const deadline = this.machine.nextDeadlineMs();
    this.timer = deadline === null || this.closing ? undefined : setTimeout(() => this.fire(), Math.max(0, Math.ceil(deadline - this.nowMs())));
  }

  private onEffect(effect: SupernodeEffect): void {
    switch (effect.kind) {
      case 'send': {
        const ws = this.peers.get(effect.to);
        if (ws) sendJson(ws, this.addressed(effect.msg));
        return;
      }
      case 'cdn-drop':
        this.applyUploader({ kind: 'unlist-task', taskId: effect.taskId });
        this.cdn.handle(effect);
        return;
      case 'cdn-fetch':
      case 'cdn-refetch-piece':
      case 'cdn-revalidate':
      case 'check-auth':
        this.cdn.handle(effect);
        return;
      case 'assigned':
        return;
      case 'log':
        this.log(effect.level, effect.message);
        return;
    }
  }

  /** The core leaves the supernode's own data address to the driver, which knows where it listens. */
  private addressed(msg: SupernodeToPeer): SupernodeToPeer {
    if (msg.kind !== 'assign' || !msg.pieces.some((p) => p.source === SUPERNODE && p.sourceAddr === '')) return msg;
    return { ...msg, pieces: msg.pieces.map((p) => (p.source === SUPERNODE && p.sourceAddr === '' ? { ...p, sourceAddr: this.dataAddr } : p)) };
  }

  private fromCdn(input: SupernodeInput): void {
    if (input.kind === 'cdn-piece') {
      const pieceCount = this.cdn.pieceCountOf(input.taskId);
      if (pieceCount !== null) {
        this.applyUploader({ kind: 'list-task', taskId: input.taskId, pieceCount });
        this.applyUploader({ kind: 'have-piece', taskId: input.taskId, piece: input.piece });
      }
    }
    this.apply(input);
  }

  // ---- HTTP ----

  private onHttp(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    if (req.method === 'GET' && path === '/metrics') {
      const stats = this.machine.stats();
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(renderMetrics({
        tasks: stats.tasks, peers: stats.peers, controlConnections: this.peers.size, dataConnections: this.dataConns.size,
        sourceBytes: this.client.bytesFromSource, sourceRequests: this.client.requests, servedBytes: this.servedBytes,
        piecesServed: this.piecesServed, piecesRefused: this.piecesRefused,
        piecesAssignedFromSupernode: stats.piecesAssignedFromSupernode, piecesAssignedFromPeers: stats.piecesAssignedFromPeers,
        cdnPiecesStored: this.cdn.counters.piecesStored, cdnPiecesLost: this.cdn.piecesLost,
        cdnFetchesCompleted: this.cdn.counters.fetchesCompleted, activeUploads: this.uploader.activeUploads,
        framesRejected: this.framesRejected,
        peersGloballyBlacklisted: stats.peersGloballyBlacklisted, peersSelfIsolated: stats.peersSelfIsolated,
      }));
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end(`no such endpoint ${path}; try /healthz, /metrics, or WebSocket ${CONTROL_PATH} and ${DATA_PATH}\n`);
  }

  private onUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'ws://supernode');
    } catch {
      return rejectUpgrade(socket, 400, 'malformed request URL');
    }
    if (url.pathname === DATA_PATH) {
      this.data.handleUpgrade(req, socket, head, (ws) => this.data.emit('connection', ws, req));
      return;
    }
    if (url.pathname !== CONTROL_PATH) return rejectUpgrade(socket, 404, `no WebSocket endpoint ${url.pathname}; use ${CONTROL_PATH} or ${DATA_PATH}`);
    const peerId = url.searchParams.get('peerId') ?? '';
    if (!PEER_ID_PATTERN.test(peerId)) return rejectUpgrade(socket, 400, 'peerId must be 1-200 characters of A-Z a-z 0-9 . _ : -');
    this.control.handleUpgrade(req, socket, head, (ws) => this.control.emit('connection', ws, req, peerId));
  }

  // ---- control plane ----

  private onControl(ws: WebSocket, peerId: string): void {
    // ws closes the connection itself after a protocol error (1009 too big, 1002, 1007) with the right code.
    ws.on('error', (err) => this.log('debug', `connection error: ${err.message}`));
    if (this.peers.has(peerId)) {
      ws.close(CLOSE_DUPLICATE_PEER, `peerId ${peerId.slice(0, 60)} is already connected`);
      return;
    }
    this.peers.set(peerId, ws);
    this.log('debug', `peer ${peerId} connected`);
    ws.on('message', (data: RawData, isBinary: boolean) => this.onControlFrame(ws, peerId, data, isBinary));
    ws.on('close', () => {
      if (this.peers.get(peerId) !== ws) return;
      this.peers.delete(peerId);
      this.log('debug', `peer ${peerId} disconnected`);
      this.apply({ kind: 'peer-gone', peerId });
    });
  }

  private onControlFrame(ws: WebSocket, peerId: string, data: RawData, isBinary: boolean): void {
    if (isBinary) return this.reject(ws, 'control frames are JSON text');
    const decoded = decodeJson(data.toString(), decodePeerToSupernode);
    if (!decoded.ok) return this.reject(ws, `bad message at ${decoded.error.path}: ${decoded.error.message}`);
    const msg = decoded.msg;
    const problem = taskProblem(msg);
    if (problem) {
      this.framesRejected++;
      sendJson(ws, { kind: 'task-failed', taskId: msg.taskId, reason: problem } satisfies SupernodeToPeer);
      return;
    }
    this.apply({ kind: 'peer-message', from: peerId, msg });
  }

  private reject(ws: WebSocket, reason: string): void {
    this.framesRejected++;
    // Close reasons are limited to 123 bytes.
    ws.close(CLOSE_BAD_REQUEST, Buffer.from(reason).subarray(0, 120).toString());
  }

  // ---- data plane ----

  private onData(ws: WebSocket): void {
    const connId = `data-${++this.nextDataConn}`;
    this.dataConns.set(connId, ws);
    // ws closes the connection itself after a protocol error (1009 too big, 1002, 1007) with the right code.
    ws.on('error', (err) => this.log('debug', `connection error: ${err.message}`));
    ws.on('close', () => this.dataConns.delete(connId));
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (isBinary) return this.reject(ws, 'piece requests are JSON text');
      const decoded = decodeJson(data.toString(), decodeDataPlane);
      if (!decoded.ok) return this.reject(ws, `bad message at ${decoded.error.path}: ${decoded.error.message}`);
      const msg = decoded.msg;
      if (msg.kind !== 'piece-request') return this.reject(ws, `expected piece-request, got ${msg.kind}`);
      if (!isTaskId(msg.taskId)) {
        this.piecesRefused++;
        sendJson(ws, { kind: 'piece-refused', requestId: msg.requestId, reason: 'missing' });
        return;
      }
      this.applyUploader({ kind: 'piece-request', from: connId, requestId: msg.requestId, taskId: msg.taskId, piece: msg.piece });
    });
  }

  private onUploaderEffect(effect: UploaderEffect): void {
    switch (effect.kind) {
      case 'serve':
        void this.serve(effect.to, effect.requestId, effect.taskId, effect.piece);
        return;
      case 'refuse': {
        this.piecesRefused++;
        const ws = this.dataConns.get(effect.to);
        if (ws) sendJson(ws, { kind: 'piece-refused', requestId: effect.requestId, reason: effect.reason });
        return;
      }
      case 'unlisted':
      case 'exit':
        return;
    }
  }

  private async serve(connId: string, requestId: number, taskId: string, piece: number): Promise<void> {
    let frame: Buffer | null = null;
    let prefixBytes = 0;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      if (frame) this.pool.release(frame);
      this.applyUploader({ kind: 'upload-finished', requestId, from: connId });
    };
    try {
      // The piece is read straight into a reused frame buffer behind its header: no copy, no fresh memory.
      const bytes = await this.cdn.servePiece(taskId, piece, (sizeBytes) => {
        const prefix = pieceFramePrefix({ kind: 'piece-data', requestId, taskId, piece, sizeBytes });
        prefixBytes = prefix.length;
        frame = this.pool.acquire(prefixBytes + sizeBytes);
        prefix.copy(frame, 0);
        return frame.subarray(prefixBytes, prefixBytes + sizeBytes);
      });
      const ws = this.dataConns.get(connId);
      if (!ws) return release();
      if (!bytes || !frame) {
        this.piecesRefused++;
        sendJson(ws, { kind: 'piece-refused', requestId, reason: 'missing' });
        return release();
      }
      const waitMs = this.limitOut.delayMs(this.nowMs(), bytes.length);
      if (waitMs > 0) await sleep(waitMs);
      this.limitOut.consume(this.nowMs(), bytes.length);
      if (ws.readyState !== ws.OPEN) return release();
      // A peer that stops reading would hold an upload slot forever: cut it off after the time a
      // piece may take, which also frees the slot (the send then fails).
      const stalled = setTimeout(() => ws.terminate(), this.opts.core.pieceTimeoutMs);
      ws.send((frame as Buffer).subarray(0, prefixBytes + bytes.length), { binary: true }, (err) => {
        clearTimeout(stalled);
        if (!err) {
          this.servedBytes += bytes.length;
          this.piecesServed++;
        }
        release();
      });
    } catch (err) {
      this.log('error', `serving piece ${piece} of task ${taskId.slice(0, 12)} failed: ${(err as Error).message}`);
      release();
    }
  }
}

/** Why a well-formed message cannot be accepted for its task, or null. */
function taskProblem(msg: PeerToSupernode): string | null {
  if (!isTaskId(msg.taskId)) return 'taskId must be 64 lowercase hex characters (the SHA-256 of the task key)';
  if (msg.kind !== 'register') return null;
  let expected: string;
  try {
    expected = taskIdFor({ url: msg.task.url, digest: msg.task.digest, identifier: msg.task.identifier });
  } catch (err) {
    return (err as Error).message;
  }
  // Otherwise one peer could register someone else's taskId with another URL and poison the cache.
  return expected === msg.taskId ? null : 'taskId does not match the task\'s URL, digest and identifier';
}

function rejectUpgrade(socket: Socket, status: number, message: string): void {
  const body = `${message}\n`;
  socket.end(`HTTP/1.1 ${status} ${status === 404 ? 'Not Found' : 'Bad Request'}\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

function advertiseHost(opts: SupernodeOptions): string {
  if (opts.advertiseIp) return opts.advertiseIp;
  if (opts.host !== '0.0.0.0' && opts.host !== '::') return opts.host;
  for (const addrs of Object.values(networkInterfaces())) {
    for (const addr of addrs ?? []) if (addr.family === 'IPv4' && !addr.internal) return addr.address;
  }
  return '127.0.0.1';
}
