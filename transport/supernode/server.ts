/**
 * The supernode process's driver: one HTTP server carrying the control plane (`/peer`), the data
 * plane (`/data`, cdn-piece-server.ts), `/healthz` and `/metrics`, around two core machines — the
 * `Supernode` (scheduling) and an `Uploader` (the CDN cache as a special peer) — and the CDN.
 *
 * Theory of operation. Every frame from the network is decoded by core/decode.ts before a
 * machine sees it; a frame that does not decode closes its connection with 4400 and a reason
 * (the peer is broken or hostile, and nothing it says afterwards can be trusted), a well-formed
 * message naming a malformed task gets a `task-failed` / `piece-refused` answer. Each machine runs
 * in a `MachineHost` (one timer at its deadline, effects drained after every input); effects
 * become frames, CDN work or log lines. The driver decides nothing: it moves bytes, checks
 * identities and keeps every piece of disk access behind a validated taskId. Grants the core
 * issues leave signed with this supernode's key (grants.ts), and `task-info` carries the key.
 *
 * A machine that throws or leaves its deadline due is a bug that leaves state no one can vouch
 * for: the fault is logged at error level and `fault` resolves, on which the process exits
 * non-zero, so its peers fail over to their next supernode and a supervisor can restart it.
 *
 *   network / CDN event                    machine input
 *   /peer text frame (decoded)             Supernode peer-message
 *   /peer close                            Supernode peer-gone
 *   CDN progress                           Supernode cdn-*, auth-result (+ Uploader list/have)
 *   probe of an accused peer answered      Supernode probe-result (peer-prober.ts)
 *   /data piece-request (decoded)          Uploader piece-request
 *   piece frame flushed                    Uploader upload-finished
 *   CDN store evicts a task                Supernode cdn-evicted (CDN and Uploader forget it first)
 *   POST /preheat (preheat-service.ts)     PreheatJobs submit → Supernode preheat → preheat-update
 *
 * The CDN store stays under `--cache-max`, never evicting a task the machine says it needs
 * (`cacheNeeded`: fetching, revalidating, or a registered peer still downloading).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { decodeJson, decodePeerToSupernode } from '../../core/decode.ts';
import { SUPERNODE, type PeerToSupernode, type SupernodeToPeer } from '../../core/protocol.ts';
import type { MachineFault, MachineHost } from '../../core/runtime.ts';
import { Supernode } from '../../core/supernode.ts';
import type { SupernodeEffect, SupernodeInput } from '../../core/supernode-io.ts';
import { TokenBucket } from '../../core/token-bucket.ts';
import { Cdn } from '../cdn/cdn.ts';
import { CdnStore } from '../cdn/cdn-store.ts';
import { SourceClient } from '../cdn/source-client.ts';
import { childRng } from '../../sim/seeded-rng.ts';
import { isPeerId, PEER_ID_RULE } from '../peer-id.ts';
import { PROMETHEUS_CONTENT_TYPE } from '../prometheus.ts';
import { describeFault, hostInRealTime } from '../real-timer.ts';
import { isTaskId, taskIdFor } from '../task-id.ts';
import { CLOSE_BAD_REQUEST, CLOSE_DUPLICATE_PEER, CLOSE_SHUTTING_DOWN, CONTROL_PATH, DATA_PATH, MAX_FRAME_BYTES, sendJson } from '../wire.ts';
import { BufferPool } from '../buffer-pool.ts';
import { CdnPieceServer } from './cdn-piece-server.ts';
import { GrantKey } from '../grants.ts';
import { PeerProber } from './peer-prober.ts';
import { ConnectionLimits } from './connection-limits.ts';
import type { LogLevel } from './log.ts';
import { renderMetrics } from './metrics.ts';
import type { SupernodeOptions } from './options.ts';
import { PreheatService } from './preheat-service.ts';

const SHUTDOWN_GRACE_MS = 1000;

type Log = (level: LogLevel, message: string) => void;

export class SupernodeServer {
  private readonly scheduler: MachineHost<SupernodeInput, SupernodeEffect>;
  private readonly machine: Supernode;
  private readonly pieces: CdnPieceServer;
  private readonly cdn: Cdn;
  private readonly client: SourceClient;
  private readonly prober: PeerProber;
  private readonly store: CdnStore;
  private readonly preheat: PreheatService;
  private tasksEvicted = 0;
  private readonly peers = new Map<string, WebSocket>();
  private readonly control = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES });
  private readonly data = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES });
  private framesRejected = 0;
  private readonly limits: ConnectionLimits;
  private closing = false;
  /** Log every control message (--log-level debug): what a peer asked and what it was told, with times. */
  private readonly debugging: boolean;
  private dataAddr = '';
  private reportFault!: (fault: MachineFault) => void;
  /** Resolves with the first machine fault; the process then exits non-zero. */
  readonly fault = new Promise<MachineFault>((resolve) => { this.reportFault = resolve; });

  private constructor(private readonly opts: SupernodeOptions, private readonly server: Server, private readonly log: Log, seed: string,
    private readonly grantKey: GrantKey) {
    const onFault = (fault: MachineFault): void => this.onFault(fault);
    this.debugging = opts.logLevel === 'debug';
    this.machine = new Supernode(opts.core, childRng(seed, 'supernode'), opts.uploadRateBytesPerSec);
    this.scheduler = hostInRealTime('supernode', this.machine, (effect) => this.onEffect(effect), onFault, { keepAlive: false });
    this.client = new SourceClient({ timeoutMs: opts.sourceTimeoutMs, limitIn: new TokenBucket(opts.limitInBytesPerSec) });
    /**
     * Piece and frame buffers (fetched pieces, pieces served); enough retained for every upload
     * slot at 4 MiB pieces. Shared memory, so the hash worker reads pieces in place.
     */
    const pool = new BufferPool(opts.core.supernodeUpLimit * 5 * 1024 * 1024, true);
    this.store = new CdnStore(join(opts.home, 'cdn'), {
      limit: opts.cacheLimit, isPinned: (taskId) => this.machine.cacheNeeded(taskId),
      onEvicted: (taskIds) => this.evicted(taskIds), log: (level, message) => log(level, `CDN cache: ${message}`),
    });
    this.cdn = new Cdn({ store: this.store, client: this.client, feed: (input) => this.fromCdn(input), log, core: opts.core, pool });
    this.preheat = new PreheatService({
      startTask: (taskId, task) => this.apply({ kind: 'preheat', taskId, task }), log, onFault,
    });
    this.pieces = new CdnPieceServer({
      core: opts.core, limitOutBytesPerSec: opts.limitOutBytesPerSec, cdn: this.cdn, pool, log, onFault, grantKey,
    });
    this.prober = new PeerProber(grantKey, opts.core.pieceTimeoutMs, (input) => this.apply(input));
    this.control.on('connection', (ws: WebSocket, _req: IncomingMessage, peerId: string) => this.onControl(ws, peerId));
    this.limits = new ConnectionLimits({ maxPerAddress: opts.maxConnectionsPerAddress, idleTimeoutMs: opts.idleTimeoutMs });
    server.on('connection', (socket: Socket) => this.limits.onSocket(socket));
  }

  static async start(opts: SupernodeOptions, log: Log, seed: string): Promise<SupernodeServer> {
    const server = createServer();
    const node = new SupernodeServer(opts, server, log, seed, await GrantKey.forHome(opts.home));
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
    // A cache left by an earlier run may be over a new limit; the core knows none of its tasks yet.
    node.store.enforceLimit().catch((err: Error) => log('warn', `CDN cache: eviction pass at start-up failed: ${err.message}`));
    return node;
  }

  get port(): number { return (this.server.address() as AddressInfo).port; }

  /** Peers registered now: the load announced to the managing node. */
  get peerCount(): number { return this.machine.stats().peers; }

  async close(): Promise<void> {
    this.closing = true;
    this.limits.close();
    this.preheat.close();
    this.scheduler.close();
    this.pieces.close();
    this.prober.close();
    const cdnClosed = this.cdn.close();
    const sockets = [...this.peers.values(), ...this.pieces.sockets()];
    const closed = sockets.map((ws) => new Promise<void>((resolve) => ws.once('close', () => resolve())));
    for (const ws of sockets) ws.close(CLOSE_SHUTTING_DOWN, 'supernode shutting down');
    this.server.closeAllConnections();
    // Peers get a moment to answer the close handshake; the rest are cut so the process can exit.
    const grace = setTimeout(() => { for (const ws of sockets) ws.terminate(); }, SHUTDOWN_GRACE_MS);
    await Promise.all([...closed, cdnClosed, new Promise<void>((resolve) => this.server.close(() => resolve()))]);
    clearTimeout(grace);
  }

  // ---- machines ----

  private apply(input: SupernodeInput): void {
    if (!this.closing) this.scheduler.apply(input);
  }

  private onFault(fault: MachineFault): void {
    this.log('error', `${describeFault(fault)}; the supernode stops so that its peers fail over`);
    this.reportFault(fault);
  }

  private onEffect(effect: SupernodeEffect): void {
    switch (effect.kind) {
      case 'send': {
        const ws = this.peers.get(effect.to);
        if (ws) sendJson(ws, this.signed(this.addressed(effect.msg)));
        if (this.debugging) this.log('debug', `to ${effect.to}: ${effect.msg.kind}${effect.msg.kind === 'assign' ? ` ${effect.msg.pieces.map((p) => `${p.piece}<-${p.source}`).join(' ')}` : ''}`);
        return;
      }
      case 'probe-peer':
        this.prober.probe(effect);
        return;
      case 'cdn-drop':
        this.pieces.dropped(effect.taskId);
        this.cdn.handle(effect);
        return;
      case 'cdn-fetch':
      case 'cdn-verify-piece':
      case 'cdn-refetch-piece':
      case 'cdn-revalidate':
      case 'check-auth':
        this.cdn.handle(effect);
        return;
      case 'preheat-update':
        this.preheat.update(effect);
        return;
      case 'assigned':
        return;
      case 'log':
        this.log(effect.level, effect.message);
        return;
    }
  }

  /** A grant the core issued leaves signed; task-info says which key signs them. */
  private signed(msg: SupernodeToPeer): SupernodeToPeer {
    if (msg.kind === 'task-info') {
      return { ...msg, supernodeKey: this.grantKey.publicKeyText, ...(msg.grant ? { grant: this.grantKey.issue(msg.grant) } : {}) };
    }
    if (msg.kind === 'assign' && msg.grant) return { ...msg, grant: this.grantKey.issue(msg.grant) };
    return msg;
  }

  /** The core leaves the supernode's own data address to the driver, which knows where it listens. */
  private addressed(msg: SupernodeToPeer): SupernodeToPeer {
    if (msg.kind !== 'assign' || !msg.pieces.some((p) => p.source === SUPERNODE && p.sourceAddr === '')) return msg;
    return { ...msg, pieces: msg.pieces.map((p) => (p.source === SUPERNODE && p.sourceAddr === '' ? { ...p, sourceAddr: this.dataAddr } : p)) };
  }

  /** The store is removing these tasks' files: the CDN, the data plane and the scheduler forget them first. */
  private evicted(taskIds: string[]): void {
    for (const taskId of taskIds) {
      this.tasksEvicted++;
      this.cdn.forget(taskId);
      this.pieces.dropped(taskId);
      this.apply({ kind: 'cdn-evicted', taskId });
    }
  }

  private fromCdn(input: SupernodeInput): void {
    if (input.kind === 'cdn-piece') {
      const pieceCount = this.cdn.pieceCountOf(input.taskId);
      if (pieceCount !== null) this.pieces.stored(input.taskId, pieceCount, input.piece);
      this.log('debug', `CDN stored piece ${input.piece} of task ${input.taskId.slice(0, 12)}`);
    }
    if (input.kind === 'cdn-done') this.log('debug', `CDN has all of task ${input.taskId.slice(0, 12)} (${input.fileDigest})`);
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
      res.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE }).end(this.metrics());
      return;
    }
    if (this.preheat.handles(req, res, path)) return;
    res.writeHead(404, { 'content-type': 'text/plain' }).end(`no such endpoint ${path}; try /healthz, /metrics, or WebSocket ${CONTROL_PATH} and ${DATA_PATH}\n`);
  }

  private metrics(): string {
    const stats = this.machine.stats();
    return renderMetrics({
      tasks: stats.tasks, peers: stats.peers, controlConnections: this.peers.size, dataConnections: this.pieces.connections,
      sourceBytes: this.client.bytesFromSource, sourceRequests: this.client.requests, servedBytes: this.pieces.servedBytes,
      piecesServed: this.pieces.piecesServed, piecesRefused: this.pieces.piecesRefused,
      piecesAssignedFromSupernode: stats.piecesAssignedFromSupernode, piecesAssignedFromPeers: stats.piecesAssignedFromPeers,
      cdnPiecesStored: this.cdn.counters.piecesStored, cdnPiecesLost: this.cdn.piecesLost,
      cdnFetchesCompleted: this.cdn.counters.fetchesCompleted, cdnJobsRunning: this.cdn.jobsRunning, activeUploads: this.pieces.activeUploads,
      framesRejected: this.framesRejected + this.pieces.badFrames,
      peersGloballyBlacklisted: stats.peersGloballyBlacklisted, peersSelfIsolated: stats.peersSelfIsolated,
      cdnCacheBytes: this.store.budget.knownBytes, cdnTasksEvicted: this.tasksEvicted,
    });
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
      this.data.handleUpgrade(req, socket, head, (ws) => { if (this.limits.admit(ws, socket)) this.pieces.accept(ws); });
      return;
    }
    if (url.pathname !== CONTROL_PATH) return rejectUpgrade(socket, 404, `no WebSocket endpoint ${url.pathname}; use ${CONTROL_PATH} or ${DATA_PATH}`);
    const peerId = url.searchParams.get('peerId') ?? '';
    if (!isPeerId(peerId)) return rejectUpgrade(socket, 400, PEER_ID_RULE);
    this.control.handleUpgrade(req, socket, head, (ws) => { if (this.limits.admit(ws, socket)) this.control.emit('connection', ws, req, peerId); });
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
    if (this.debugging) this.log('debug', `from ${peerId}: ${msg.kind}${msg.kind === 'pull' || msg.kind === 'report' ? ` ${msg.results.map((r) => `${r.piece}${r.ok ? '+' : '-'}`).join(' ')}` : ''}`);
    this.apply({ kind: 'peer-message', from: peerId, msg });
  }

  private reject(ws: WebSocket, reason: string): void {
    this.framesRejected++;
    // Close reasons are limited to 123 bytes.
    ws.close(CLOSE_BAD_REQUEST, Buffer.from(reason).subarray(0, 120).toString());
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
