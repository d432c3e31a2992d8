/**
 * Data-plane client: fetches pieces from uploaders (other peers and the supernode) over
 * `ws://ADDR/data`, one connection per address shared by all requests to it, answers matched by
 * requestId. Each piece is read straight into a buffer of `pool` (data-socket.ts), which the
 * caller gives back with `release()` once the bytes are used. It only moves bytes and classifies
 * what went wrong; whether bytes are good is decided by the core from the digest the caller
 * computes.
 *
 * Every request ends in exactly one outcome: the bytes, or a failure kind the core understands
 * (`busy` / `refused` from the uploader, `unreachable` when the connection fails or drops,
 * `timeout` when no answer comes in time, `corrupt` when the sender breaks the protocol or answers
 * something else). A cancelled request ends as `cancelled` and is not reported.
 */
import { decodeDataPlane, parseJsonSafe } from '../../core/decode.ts';
import type { FailureKind, Grant, PieceDataMsg, PieceRequestMsg } from '../../core/protocol.ts';
import type { BufferPool } from '../buffer-pool.ts';
import { DataSocket } from './data-socket.ts';

export type FetchOutcome =
  | { ok: true; bytes: Buffer; release(): void }
  | { ok: false; failure: FailureKind | 'cancelled'; detail: string };

export interface PieceRequest {
  addr: string;
  taskId: string;
  piece: number;
  sizeBytes: number;
  timeoutMs: number;
  signal?: AbortSignal;
  /** The requester's admission to the task (core/protocol.ts); sources refuse requests without one. */
  grant?: Grant;
}

interface Pending {
  taskId: string;
  piece: number;
  sizeBytes: number;
  settle(outcome: FetchOutcome): void;
}

const CONNECT_TIMEOUT_MS = 5_000;
/** Requests in flight on one connection; the core runs at most peerDownLimit, this is a backstop. */
const MAX_PENDING_PER_CONNECTION = 64;

class DataConnection {
  readonly socket: DataSocket;
  readonly pending = new Map<number, Pending>();
  /** Pool buffers handed to the socket, by request, until their piece is read in full. */
  private readonly reading = new Map<number, Buffer>();
  private readonly queued: string[] = [];
  private closedReason: string | null = null;

  constructor(readonly addr: string, private readonly pool: BufferPool, private readonly onGone: (conn: DataConnection) => void) {
    this.socket = new DataSocket(addr, {
      onOpen: () => { for (const text of this.queued.splice(0)) this.socket.send(text); },
      pieceBuffer: (header) => this.pieceBuffer(header),
      onPiece: (header, bytes) => this.onPiece(header, bytes),
      onText: (text) => this.onText(text),
      onClosed: (reason, broken) => this.failAll(broken ? 'corrupt' : 'unreachable', reason),
    }, CONNECT_TIMEOUT_MS);
  }

  get usable(): boolean { return this.closedReason === null; }

  request(requestId: number, req: PieceRequest, settle: (o: FetchOutcome) => void): void {
    if (this.closedReason !== null) return settle({ ok: false, failure: 'unreachable', detail: this.closedReason });
    if (this.pending.size >= MAX_PENDING_PER_CONNECTION) {
      return settle({ ok: false, failure: 'busy', detail: `too many requests in flight to ${this.addr}` });
    }
    this.pending.set(requestId, { taskId: req.taskId, piece: req.piece, sizeBytes: req.sizeBytes, settle });
    const msg: PieceRequestMsg = { kind: 'piece-request', requestId, taskId: req.taskId, piece: req.piece, ...(req.grant ? { grant: req.grant } : {}) };
    const text = JSON.stringify(msg);
    if (this.socket.isOpen) this.socket.send(text); else this.queued.push(text);
  }

  /**
   * The request is over on the caller's side (settled, timed out or cancelled). A piece still
   * being read keeps its buffer until the read ends; `onPiece` then gives it back.
   */
  forget(requestId: number): void {
    this.pending.delete(requestId);
  }

  private pieceBuffer(header: PieceDataMsg): Buffer | null {
    const pending = this.pending.get(header.requestId);
    if (!pending || header.taskId !== pending.taskId || header.piece !== pending.piece || header.sizeBytes !== pending.sizeBytes) return null;
    const lease = this.pool.acquire(header.sizeBytes);
    this.reading.set(header.requestId, lease);
    return lease.subarray(0, header.sizeBytes);
  }

  private onPiece(header: PieceDataMsg, bytes: Buffer | null): void {
    const lease = this.reading.get(header.requestId);
    this.reading.delete(header.requestId);
    const pending = this.pending.get(header.requestId);
    if (!pending) {
      // An answer to a request we cancelled or gave up on.
      if (lease) this.pool.release(lease);
      return;
    }
    this.pending.delete(header.requestId);
    if (!bytes || !lease) {
      pending.settle({ ok: false, failure: 'corrupt', detail: `${this.addr} answered with the wrong piece or size` });
      return;
    }
    let released = false;
    pending.settle({ ok: true, bytes, release: () => { if (!released) { released = true; this.pool.release(lease); } } });
  }

  private onText(text: string): void {
    const parsed = parseJsonSafe(text);
    const decoded = parsed.ok ? decodeDataPlane(parsed.msg) : null;
    if (!decoded?.ok || decoded.msg.kind !== 'piece-refused') {
      this.failAll('corrupt', `unexpected text frame from ${this.addr}`);
      this.socket.close();
      return;
    }
    const pending = this.pending.get(decoded.msg.requestId);
    if (!pending) return;
    this.pending.delete(decoded.msg.requestId);
    const failure: FailureKind = decoded.msg.reason === 'missing' ? 'refused' : decoded.msg.reason;
    pending.settle({ ok: false, failure, detail: `${this.addr} refused piece ${pending.piece} (${decoded.msg.reason})` });
  }

  private failAll(failure: FailureKind, detail: string): void {
    this.closedReason ??= detail;
    this.onGone(this);
    // A read cut short leaves its buffer unused: back to the pool.
    for (const lease of this.reading.values()) this.pool.release(lease);
    this.reading.clear();
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) p.settle({ ok: false, failure, detail });
  }
}

export class PieceClient {
  private readonly conns = new Map<string, DataConnection>();
  private nextRequestId = 1;

  constructor(private readonly pool: BufferPool) {}

  fetch(req: PieceRequest): Promise<FetchOutcome> {
    return new Promise((resolve) => {
      const requestId = this.nextRequestId++;
      let conn: DataConnection | undefined;
      let settled = false;
      const settle = (outcome: FetchOutcome): void => {
        if (settled) {
          if (outcome.ok) outcome.release();
          return;
        }
        settled = true;
        clearTimeout(timer);
        req.signal?.removeEventListener('abort', onAbort);
        conn?.forget(requestId);
        resolve(outcome);
      };
      const timer = setTimeout(() => settle({ ok: false, failure: 'timeout', detail: `no answer from ${req.addr} in ${req.timeoutMs} ms` }), req.timeoutMs);
      const onAbort = (): void => settle({ ok: false, failure: 'cancelled', detail: 'cancelled' });
      if (req.signal?.aborted) return onAbort();
      req.signal?.addEventListener('abort', onAbort, { once: true });
      try {
        conn = this.connection(req.addr);
      } catch (err) {
        return settle({ ok: false, failure: 'unreachable', detail: `bad source address ${JSON.stringify(req.addr).slice(0, 80)}: ${describe(err)}` });
      }
      conn.request(requestId, req, settle);
    });
  }

  close(): void {
    for (const conn of this.conns.values()) conn.socket.close();
    this.conns.clear();
  }

  private connection(addr: string): DataConnection {
    let conn = this.conns.get(addr);
    if (!conn || !conn.usable) {
      conn = new DataConnection(addr, this.pool, (gone) => { if (this.conns.get(addr) === gone) this.conns.delete(addr); });
      this.conns.set(addr, conn);
    }
    return conn;
  }
}

function describe(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e?.code ?? e?.message ?? String(err);
}
