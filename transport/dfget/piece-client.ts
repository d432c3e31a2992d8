/**
 * Data-plane client: fetches pieces from uploaders (other peers and the supernode) over
 * `ws://ADDR/data`, one connection per address shared by all requests to it, answers matched by
 * requestId. It only moves bytes and classifies what went wrong; whether bytes are good is
 * decided by the core from the digest the caller computes.
 *
 * Every request ends in exactly one outcome: the bytes, or a failure kind the core understands
 * (`busy` / `refused` from the uploader, `unreachable` when the connection fails or drops,
 * `timeout` when no answer comes in time, `corrupt` when the frame is malformed or answers
 * something else). A cancelled request ends as `cancelled` and is not reported.
 */
import { WebSocket, type RawData } from 'ws';
import { decodeDataPlane, parseJsonSafe } from '../../core/decode.ts';
import type { FailureKind, Grant, PieceRequestMsg } from '../../core/protocol.ts';
import { dataUrl, decodePieceFrame, MAX_FRAME_BYTES, rawToBuffer } from '../wire.ts';

export type FetchOutcome = { ok: true; bytes: Buffer } | { ok: false; failure: FailureKind | 'cancelled'; detail: string };

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
  readonly ws: WebSocket;
  readonly pending = new Map<number, Pending>();
  private readonly opened: Promise<void>;

  constructor(readonly addr: string, private readonly onGone: (conn: DataConnection) => void) {
    this.ws = new WebSocket(dataUrl(addr), { maxPayload: MAX_FRAME_BYTES, handshakeTimeout: CONNECT_TIMEOUT_MS });
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', (err) => reject(err));
    });
    this.opened.catch(() => {});
    this.ws.on('message', (data: RawData, isBinary: boolean) => this.onMessage(data, isBinary));
    this.ws.on('error', () => this.ws.terminate());
    this.ws.on('close', (code: number) => this.failAll('unreachable', `connection to ${addr} closed (code ${code})`));
  }

  async request(requestId: number, req: PieceRequest, settle: (o: FetchOutcome) => void): Promise<void> {
    try {
      await this.opened;
    } catch (err) {
      settle({ ok: false, failure: 'unreachable', detail: `cannot connect to ${this.addr}: ${describe(err)}` });
      return;
    }
    if (this.pending.size >= MAX_PENDING_PER_CONNECTION) {
      settle({ ok: false, failure: 'busy', detail: `too many requests in flight to ${this.addr}` });
      return;
    }
    this.pending.set(requestId, { taskId: req.taskId, piece: req.piece, sizeBytes: req.sizeBytes, settle });
    const msg: PieceRequestMsg = { kind: 'piece-request', requestId, taskId: req.taskId, piece: req.piece, ...(req.grant ? { grant: req.grant } : {}) };
    this.ws.send(JSON.stringify(msg));
  }

  forget(requestId: number): void { this.pending.delete(requestId); }

  private onMessage(data: RawData, isBinary: boolean): void {
    if (isBinary) {
      const frame = decodePieceFrame(rawToBuffer(data));
      if (!frame.ok) return this.breakConnection(`malformed piece frame from ${this.addr}: ${frame.error.message}`);
      const pending = this.pending.get(frame.header.requestId);
      if (!pending) return; // an answer to a request we cancelled
      this.pending.delete(frame.header.requestId);
      if (frame.header.taskId !== pending.taskId || frame.header.piece !== pending.piece || frame.bytes.length !== pending.sizeBytes) {
        pending.settle({ ok: false, failure: 'corrupt', detail: `${this.addr} answered with the wrong piece or size` });
        return;
      }
      pending.settle({ ok: true, bytes: frame.bytes });
      return;
    }
    const parsed = parseJsonSafe(rawToBuffer(data).toString('utf8'));
    const decoded = parsed.ok ? decodeDataPlane(parsed.msg) : null;
    if (!decoded?.ok || decoded.msg.kind !== 'piece-refused') return this.breakConnection(`unexpected text frame from ${this.addr}`);
    const pending = this.pending.get(decoded.msg.requestId);
    if (!pending) return;
    this.pending.delete(decoded.msg.requestId);
    const failure: FailureKind = decoded.msg.reason === 'missing' ? 'refused' : decoded.msg.reason;
    pending.settle({ ok: false, failure, detail: `${this.addr} refused piece ${pending.piece} (${decoded.msg.reason})` });
  }

  /** A sender that breaks the protocol gets no more trust on this connection. */
  private breakConnection(detail: string): void {
    this.failAll('corrupt', detail);
    this.ws.terminate();
  }

  private failAll(failure: FailureKind, detail: string): void {
    this.onGone(this);
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) p.settle({ ok: false, failure, detail });
  }
}

export class PieceClient {
  private readonly conns = new Map<string, DataConnection>();
  private nextRequestId = 1;

  fetch(req: PieceRequest): Promise<FetchOutcome> {
    return new Promise((resolve) => {
      const requestId = this.nextRequestId++;
      let conn: DataConnection | undefined;
      let settled = false;
      const settle = (outcome: FetchOutcome): void => {
        if (settled) return;
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
      void conn.request(requestId, req, settle);
    });
  }

  close(): void {
    for (const conn of this.conns.values()) conn.ws.terminate();
    this.conns.clear();
  }

  private connection(addr: string): DataConnection {
    let conn = this.conns.get(addr);
    if (!conn || conn.ws.readyState === WebSocket.CLOSING || conn.ws.readyState === WebSocket.CLOSED) {
      conn = new DataConnection(addr, (gone) => { if (this.conns.get(addr) === gone) this.conns.delete(addr); });
      this.conns.set(addr, conn);
    }
    return conn;
  }
}

function describe(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e?.code ?? e?.message ?? String(err);
}
