/**
 * Scripted peers for benchmarks and the chaos campaign: a control-plane connection that queues
 * what the supernode sends, a data-plane connection that asks for pieces, and `fetchTask`, a
 * well-behaved downloader (register, pull, fetch, verify, report, leave) that needs no dfget.
 * Many of them run in one process (the load bench runs 2,000), so nothing here is per-peer heavy.
 */
import { createHash } from 'node:crypto';
import WebSocket from 'ws';
import { decodeJson, decodeSupernodeToPeer } from '../../core/decode.ts';
import type { Grant, PeerToSupernode, PieceResult, SupernodeToPeer, TaskInfoMsg, TaskSpec } from '../../core/protocol.ts';
import { taskIdFor } from '../../transport/task-id.ts';
import { controlUrl, dataUrl, decodePieceFrame, MAX_FRAME_BYTES, rawToBuffer } from '../../transport/wire.ts';

export interface Closed { code: number; reason: string }

export class ScriptControl {
  private readonly inbox: SupernodeToPeer[] = [];
  private waiter: (() => void) | null = null;
  closedWith: Closed | null = null;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      const decoded = isBinary ? null : decodeJson(data.toString(), decodeSupernodeToPeer);
      if (decoded?.ok) this.inbox.push(decoded.msg);
      this.wake();
    });
    ws.on('close', (code, reason) => { this.closedWith = { code, reason: reason.toString() }; this.wake(); });
    ws.on('error', () => undefined);
  }

  static async connect(addr: string, peerId: string, timeoutMs = 60_000): Promise<ScriptControl> {
    const ws = new WebSocket(controlUrl(addr, peerId), { maxPayload: MAX_FRAME_BYTES, handshakeTimeout: timeoutMs });
    const client = new ScriptControl(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('close', (code, reason) => reject(new Error(`closed before open: ${code} ${reason.toString()}`)));
    });
    return client;
  }

  send(msg: PeerToSupernode): void { if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg)); }

  /** The next message, or null when nothing came within `timeoutMs` or the connection closed. */
  async poll(timeoutMs: number): Promise<SupernodeToPeer | null> {
    const deadline = Date.now() + timeoutMs;
    while (this.inbox.length === 0) {
      const left = deadline - Date.now();
      if (this.closedWith || left <= 0) return null;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => { clearTimeout(timer); resolve(); };
      });
    }
    return this.inbox.shift()!;
  }

  close(): void { this.ws.close(); }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.();
  }
}

export type PieceAnswer = { kind: 'data'; bytes: Buffer } | { kind: 'refused'; reason: string } | { kind: 'closed'; code: number };

export class ScriptData {
  private nextRequestId = 1;
  private readonly pending = new Map<number, (answer: PieceAnswer) => void>();

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      if (isBinary) {
        const frame = decodePieceFrame(rawToBuffer(data as Buffer));
        if (frame.ok) this.settle(frame.header.requestId, { kind: 'data', bytes: frame.bytes });
        return;
      }
      try {
        const msg = JSON.parse(data.toString()) as { requestId: number; reason: string };
        this.settle(msg.requestId, { kind: 'refused', reason: String(msg.reason) });
      } catch { /* not ours to judge */ }
    });
    ws.on('close', (code) => {
      for (const resolve of this.pending.values()) resolve({ kind: 'closed', code });
      this.pending.clear();
    });
    ws.on('error', () => undefined);
  }

  static async connect(addr: string): Promise<ScriptData> {
    const ws = new WebSocket(dataUrl(addr), { maxPayload: MAX_FRAME_BYTES, handshakeTimeout: 60_000 });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return new ScriptData(ws);
  }

  /** Ask for a piece, showing the grant the supernode gave this peer (task-info, renewed in assign). */
  request(taskId: string, piece: number, grant?: Grant): Promise<PieceAnswer> {
    const requestId = this.nextRequestId++;
    return new Promise((resolve) => {
      this.pending.set(requestId, resolve);
      this.ws.send(JSON.stringify({ kind: 'piece-request', requestId, taskId, piece, ...(grant ? { grant } : {}) }));
    });
  }

  close(): void { this.ws.close(); }

  private settle(requestId: number, answer: PieceAnswer): void {
    const resolve = this.pending.get(requestId);
    this.pending.delete(requestId);
    resolve?.(answer);
  }
}

export function sha256(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

export interface Fetched { taskId: string; info: TaskInfoMsg; fileDigest: string; piecesFetched: number }

/**
 * Download `spec` through the supernode at `addr` as peer `peerId` (pattern cdn: every piece from
 * the supernode), verifying each piece; resolves with the digest of the whole file, which is
 * hashed as pieces land in order and never kept whole in memory.
 */
export async function fetchTask(addr: string, spec: TaskSpec, peerId: string, timeoutMs: number): Promise<Fetched> {
  const taskId = taskIdFor(spec);
  const control = await ScriptControl.connect(addr, peerId);
  const data = new Map<string, ScriptData>();
  const deadline = Date.now() + timeoutMs;
  try {
    control.send({ kind: 'register', taskId, task: spec, uploadAddr: '127.0.0.1:1', have: [], blacklist: [], pattern: 'cdn' });
    const state: FetchState = { info: null, retryMs: null, got: new Map<number, Buffer>(), fetched: 0 };
    const hash = createHash('sha256');
    let next = 0;
    while (!state.info || next < state.info.pieceCount) {
      const left = deadline - Date.now();
      if (left <= 0 || control.closedWith) throw new Error(`peer ${peerId}: not done in ${timeoutMs} ms (${next} pieces in order; ${control.closedWith?.reason ?? 'open'})`);
      const msg = await control.poll(state.retryMs === null ? left : Math.min(state.retryMs, left));
      const results = msg ? await onMessage(msg, state, data, taskId, control) : retry(state, control, taskId);
      while (state.info && state.got.has(next)) { hash.update(state.got.get(next)!); state.got.delete(next); next++; }
      if (results.length > 0) control.send({ kind: state.info && next + state.got.size >= state.info.pieceCount ? 'report' : 'pull', taskId, results });
    }
    control.send({ kind: 'leave', taskId });
    return { taskId, info: state.info, fileDigest: `sha256:${hash.digest('hex')}`, piecesFetched: state.fetched };
  } finally {
    control.close();
    for (const client of data.values()) client.close();
  }
}

type FetchState = { info: TaskInfoMsg | null; grant?: Grant; retryMs: number | null; got: Map<number, Buffer>; fetched: number };

function retry(state: FetchState, control: ScriptControl, taskId: string): PieceResult[] {
  if (state.retryMs !== null) control.send({ kind: 'pull', taskId, results: [] });
  state.retryMs = null;
  return [];
}

async function onMessage(msg: SupernodeToPeer, state: FetchState, data: Map<string, ScriptData>, taskId: string,
  control: ScriptControl): Promise<PieceResult[]> {
  if (msg.kind === 'task-failed') throw new Error(`task failed: ${msg.reason}`);
  if (msg.kind === 'task-info') {
    state.info = msg;
    if (msg.grant) state.grant = msg.grant;
    control.send({ kind: 'pull', taskId, results: [] });
    return [];
  }
  if (msg.kind === 'wait') { state.retryMs = msg.retryAfterMs; return []; }
  if (msg.kind !== 'assign') return [];
  state.retryMs = msg.retryAfterMs > 0 ? msg.retryAfterMs : null;
  if (msg.grant) state.grant = msg.grant;
  return Promise.all(msg.pieces.map(async (a): Promise<PieceResult> => {
    let client = data.get(a.sourceAddr);
    if (!client) data.set(a.sourceAddr, client = await ScriptData.connect(a.sourceAddr));
    const answer = await client.request(taskId, a.piece, state.grant);
    const ok = answer.kind === 'data' && sha256(answer.bytes) === a.digest;
    if (ok && answer.kind === 'data') { state.got.set(a.piece, answer.bytes); state.fetched++; }
    return { piece: a.piece, source: a.source, ok, ...(ok ? {} : { failure: answer.kind === 'data' ? 'corrupt' as const : 'refused' as const }) };
  }));
}
