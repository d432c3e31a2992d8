/**
 * Seeding: a finished download stays a source after its dfget exits. dfget's control connection
 * to the supernode closes when it exits (the supernode drops that peer), so the uploader, which
 * keeps serving the file, registers each complete task itself under its own peer id.
 *
 * Theory of operation. One WebSocket control connection per supernode address, opened while any
 * task is registered there. A task is registered (`register`, `have` = every piece, pattern p2p)
 * with the first supernode of its list; when that connection fails or closes, the task moves to
 * the next supernode of its list (wrapping around), and every address reconnects only after a
 * back-off that doubles per failure (reset once the supernode answers). Answers are decoded and
 * otherwise ignored, except: `task-failed` drops the registration, and a `task-info` whose layout
 * or file digest differs from what this uploader holds withdraws it (`leave`), so no peer is sent
 * here for bytes that do not match. `unseed` (the core Uploader unlisted the task) sends `leave`.
 * Nothing a supernode sends can throw out of here; problems are logged.
 */
import { WebSocket, type RawData } from 'ws';
import { decodeSupernodeToPeer, parseJsonSafe } from '../../core/decode.ts';
import type { PeerToSupernode, TaskSpec } from '../../core/protocol.ts';
import { controlUrl, MAX_TEXT_FRAME_BYTES, rawToBuffer } from '../wire.ts';

const CONNECT_TIMEOUT_MS = 15_000;
const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 30_000;
/** Bounds the registrations one uploader keeps (the core Uploader lists at most maxTasks). */
const MAX_SEEDED_TASKS = 10_000;

export interface SeedTask {
  taskId: string;
  task: TaskSpec;
  /** Supernodes to register with, in order. */
  supernodes: string[];
  totalBytes: number;
  pieceSizeBytes: number;
  pieceCount: number;
  /** `sha256:<hex>` of the file held, when known: a supernode announcing another digest is left. */
  fileDigest?: string;
  uploadRateBytesPerSec?: number;
}

interface Seeded { spec: SeedTask; at: number }

interface SupernodeConn {
  addr: string;
  ws: WebSocket | null;
  taskIds: Set<string>;
  failures: number;
  retryAtMs: number;
  timer: NodeJS.Timeout | undefined;
}

export class Seeder {
  private readonly seeded = new Map<string, Seeded>();
  private readonly conns = new Map<string, SupernodeConn>();
  private closed = false;

  constructor(
    private readonly peerId: string,
    private readonly uploadAddr: string,
    private readonly log: (level: 'info' | 'warn', message: string) => void,
  ) {}

  get seededTasks(): number { return this.seeded.size; }

  /** Register a complete task (again, if its spec changed) with the first of its supernodes. */
  seed(spec: SeedTask): void {
    if (this.closed || spec.supernodes.length === 0) return;
    this.unseed(spec.taskId);
    if (this.seeded.size >= MAX_SEEDED_TASKS) {
      this.log('warn', `not seeding ${spec.taskId}: already seeding ${MAX_SEEDED_TASKS} tasks`);
      return;
    }
    this.seeded.set(spec.taskId, { spec, at: 0 });
    this.attach(spec.taskId, spec.supernodes[0]);
  }

  /** Stop offering a task: `leave` where it is registered. */
  unseed(taskId: string): void {
    const entry = this.seeded.get(taskId);
    if (!entry) return;
    this.seeded.delete(taskId);
    const conn = this.conns.get(entry.spec.supernodes[entry.at]);
    if (!conn) return;
    conn.taskIds.delete(taskId);
    this.send(conn, { kind: 'leave', taskId });
    this.dropIfUnused(conn);
  }

  /** Close every connection; the supernodes drop this peer with them. */
  close(): void {
    this.closed = true;
    for (const conn of this.conns.values()) {
      clearTimeout(conn.timer);
      conn.ws?.close();
    }
    this.conns.clear();
    this.seeded.clear();
  }

  private attach(taskId: string, addr: string): void {
    let conn = this.conns.get(addr);
    if (!conn) this.conns.set(addr, conn = { addr, ws: null, taskIds: new Set(), failures: 0, retryAtMs: 0, timer: undefined });
    conn.taskIds.add(taskId);
    if (conn.ws?.readyState === WebSocket.OPEN) this.register(conn, taskId);
    else if (!conn.ws && !conn.timer) this.connectLater(conn);
  }

  private register(conn: SupernodeConn, taskId: string): void {
    const spec = this.seeded.get(taskId)?.spec;
    if (!spec) return;
    this.send(conn, {
      kind: 'register', taskId, task: spec.task, uploadAddr: this.uploadAddr,
      have: Array.from({ length: spec.pieceCount }, (_, piece) => piece), blacklist: [], pattern: 'p2p',
      ...(spec.uploadRateBytesPerSec && spec.uploadRateBytesPerSec > 0 ? { uploadRateBytesPerSec: spec.uploadRateBytesPerSec } : {}),
    });
  }

  private connectLater(conn: SupernodeConn): void {
    const delayMs = Math.max(0, conn.retryAtMs - Date.now());
    conn.timer = setTimeout(() => { conn.timer = undefined; this.connect(conn); }, delayMs);
    conn.timer.unref();
  }

  private connect(conn: SupernodeConn): void {
    if (this.closed || conn.taskIds.size === 0 || this.conns.get(conn.addr) !== conn) return;
    let ws: WebSocket;
    try {
      ws = new WebSocket(controlUrl(conn.addr, this.peerId), { maxPayload: MAX_TEXT_FRAME_BYTES, handshakeTimeout: CONNECT_TIMEOUT_MS });
    } catch (err) {
      this.log('warn', `seeding: bad supernode address ${conn.addr}: ${(err as Error).message}`);
      return this.failed(conn, null);
    }
    conn.ws = ws;
    ws.on('open', () => {
      if (conn.ws === ws) for (const taskId of conn.taskIds) this.register(conn, taskId);
    });
    ws.on('message', (data: RawData, isBinary: boolean) => this.onMessage(conn, data, isBinary));
    ws.on('error', (err: NodeJS.ErrnoException) => {
      this.log('warn', `seeding: supernode ${conn.addr}: ${err.code ?? err.message}`);
      ws.terminate();
    });
    ws.on('close', () => this.failed(conn, ws));
  }

  private onMessage(conn: SupernodeConn, data: RawData, isBinary: boolean): void {
    const parsed = isBinary ? null : parseJsonSafe(rawToBuffer(data).toString('utf8'));
    const decoded = parsed?.ok ? decodeSupernodeToPeer(parsed.msg) : null;
    if (!decoded?.ok) {
      this.log('warn', `seeding: supernode ${conn.addr} sent an undecodable message; ignored`);
      return;
    }
    conn.failures = 0;
    const msg = decoded.msg;
    const entry = this.seeded.get(msg.taskId);
    if (!entry || !conn.taskIds.has(msg.taskId)) return;
    const spec = entry.spec;
    if (msg.kind === 'task-failed') {
      this.log('warn', `seeding: supernode ${conn.addr} refused task ${msg.taskId}: ${msg.reason}`);
      this.seeded.delete(msg.taskId);
      conn.taskIds.delete(msg.taskId);
      this.dropIfUnused(conn);
    } else if (msg.kind === 'task-info' && (msg.totalBytes !== spec.totalBytes || msg.pieceSizeBytes !== spec.pieceSizeBytes
      || (msg.fileDigest !== undefined && spec.fileDigest !== undefined && msg.fileDigest !== spec.fileDigest))) {
      this.log('warn', `seeding: supernode ${conn.addr} describes task ${msg.taskId} differently from the file held; leaving`);
      this.unseed(msg.taskId);
    }
  }

  /** The connection failed or closed: back off, and move its tasks to their next supernode. */
  private failed(conn: SupernodeConn, ws: WebSocket | null): void {
    if (conn.ws !== ws) return;
    conn.ws = null;
    conn.failures++;
    conn.retryAtMs = Date.now() + Math.min(RETRY_MIN_MS * 2 ** (conn.failures - 1), RETRY_MAX_MS);
    if (this.closed || this.conns.get(conn.addr) !== conn) return;
    for (const taskId of [...conn.taskIds]) {
      const entry = this.seeded.get(taskId);
      if (!entry) { conn.taskIds.delete(taskId); continue; }
      entry.at = (entry.at + 1) % entry.spec.supernodes.length;
      const next = entry.spec.supernodes[entry.at];
      if (next === conn.addr) continue;
      conn.taskIds.delete(taskId);
      this.attach(taskId, next);
    }
    if (conn.taskIds.size > 0) this.connectLater(conn);
    // Kept while empty so its back-off outlives a task bouncing between supernodes.
  }

  private dropIfUnused(conn: SupernodeConn): void {
    if (conn.taskIds.size > 0) return;
    clearTimeout(conn.timer);
    conn.timer = undefined;
    const ws = conn.ws;
    conn.ws = null;
    if (conn.failures === 0) this.conns.delete(conn.addr);
    // Closing after the queued `leave` frames; the supernode drops this peer's other state with it.
    if (ws?.readyState === WebSocket.CONNECTING) ws.terminate();
    else ws?.close();
  }

  private send(conn: SupernodeConn, msg: PeerToSupernode): void {
    if (conn.ws?.readyState === WebSocket.OPEN) conn.ws.send(JSON.stringify(msg));
  }
}
