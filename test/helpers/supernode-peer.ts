/**
 * A scripted, well-behaved peer for supernode tests: speaks the control plane and the data plane
 * by the book without dfget, so supernode tests do not depend on the client's code. It downloads
 * every piece from the sources it is assigned, checks each against the digest in the assignment,
 * and reports results in its next pull.
 */
import { createHash } from 'node:crypto';
import WebSocket from 'ws';
import { decodeJson, decodeSupernodeToPeer } from '../../core/decode.ts';
import type { Grant, PeerToSupernode, PieceResult, SupernodeToPeer, TaskInfoMsg, TaskSpec } from '../../core/protocol.ts';
import { ScriptData as DataClient } from '../../bench/testbed/script-peer.ts';
import { taskIdFor } from '../../transport/task-id.ts';
import { controlUrl, MAX_FRAME_BYTES } from '../../transport/wire.ts';

export interface Closed { code: number; reason: string }

/** Control-plane connection that queues what the supernode sends. */
export class ControlClient {
  private readonly inbox: SupernodeToPeer[] = [];
  private waiter: (() => void) | null = null;
  closedWith: Closed | null = null;
  readonly closed: Promise<Closed>;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      const decoded = isBinary ? null : decodeJson(data.toString(), decodeSupernodeToPeer);
      if (!decoded?.ok) throw new Error(`supernode sent an undecodable frame: ${data.toString().slice(0, 200)}`);
      this.inbox.push(decoded.msg);
      this.wake();
    });
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => {
      this.closedWith = { code, reason: reason.toString() };
      this.wake();
      resolve(this.closedWith);
    }));
  }

  static async connect(addr: string, peerId: string): Promise<ControlClient> {
    const ws = new WebSocket(controlUrl(addr, peerId), { maxPayload: MAX_FRAME_BYTES });
    const client = new ControlClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return client;
  }

  send(msg: PeerToSupernode): void { this.ws.send(JSON.stringify(msg)); }

  /** The next message (in order); rejects when the connection closes or nothing comes in time. */
  async next(timeoutMs = 10_000): Promise<SupernodeToPeer> {
    const msg = await this.poll(timeoutMs);
    if (!msg) throw new Error(`no message from the supernode within ${timeoutMs} ms`);
    return msg;
  }

  /** The next message, or null when nothing came within `timeoutMs`; rejects when the connection closes. */
  async poll(timeoutMs: number): Promise<SupernodeToPeer | null> {
    const deadline = Date.now() + timeoutMs;
    while (this.inbox.length === 0) {
      if (this.closedWith) throw new Error(`control connection closed (${this.closedWith.code} ${this.closedWith.reason})`);
      const left = deadline - Date.now();
      if (left <= 0) return null;
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

/** Data-plane connection to one uploader (or the supernode): the scripted peers' client, shared with bench/. */
export { ScriptData as DataClient, type PieceAnswer } from '../../bench/testbed/script-peer.ts';

export class TaskFailedError extends Error {
  constructor(readonly reason: string, readonly status: number | undefined) {
    super(`task failed: ${reason}${status !== undefined ? ` (status ${status})` : ''}`);
  }
}

export interface Downloaded { bytes: Buffer; info: TaskInfoMsg; taskId: string; piecesFromSupernode: number }

/**
 * Register, pull and fetch until every piece is verified; leave; return the file. Like the core
 * Peer it pulls when it has results to report or when a `wait`/`assign` hint expires, and
 * otherwise waits for the supernode to send work unasked (an empty `assign` means "all you miss
 * is running"), so a supernode that forgets a waiting peer makes this time out.
 */
export async function downloadThroughSupernode(supernodeAddr: string, spec: TaskSpec, peerId: string,
  timeoutMs = 30_000): Promise<Downloaded> {
  const taskId = taskIdFor(spec);
  const control = await ControlClient.connect(supernodeAddr, peerId);
  const dataClients = new Map<string, DataClient>();
  const deadline = Date.now() + timeoutMs;
  const pull = (results: PieceResult[]): void => control.send({ kind: 'pull', taskId, results });
  try {
    control.send({ kind: 'register', taskId, task: spec, uploadAddr: '127.0.0.1:1', have: [], blacklist: [], pattern: 'cdn' });
    let info: TaskInfoMsg | null = null;
    let grant: Grant | undefined;
    const pieces = new Map<number, Buffer>();
    let retryAfterMs: number | null = null;
    let piecesFromSupernode = 0;
    while (!info || pieces.size < info.pieceCount) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`download of ${spec.url} did not finish within ${timeoutMs} ms (${pieces.size} pieces verified)`);
      const msg = await control.poll(retryAfterMs === null ? left : Math.min(retryAfterMs, left));
      if (!msg) {
        if (retryAfterMs !== null) pull([]);
        retryAfterMs = null;
        continue;
      }
      if (msg.kind === 'task-failed') throw new TaskFailedError(msg.reason, msg.status);
      if (msg.kind === 'task-info') {
        info = msg;
        grant = msg.grant;
        if (info.pieceCount > 0) pull([]);
        continue;
      }
      if (msg.kind === 'wait') {
        retryAfterMs = msg.retryAfterMs;
        continue;
      }
      if (msg.grant) grant = msg.grant;
      const results: PieceResult[] = await Promise.all(msg.pieces.map(async (assignment) => {
        let client = dataClients.get(assignment.sourceAddr);
        if (!client) dataClients.set(assignment.sourceAddr, client = await DataClient.connect(assignment.sourceAddr));
        const answer = await client.request(taskId, assignment.piece, grant);
        const ok = answer.kind === 'data' && sha256(answer.bytes) === assignment.digest;
        if (ok) {
          pieces.set(assignment.piece, answer.bytes);
          piecesFromSupernode++;
        }
        return { piece: assignment.piece, source: assignment.source, ok, ...(ok ? {} : { failure: answer.kind === 'data' ? 'corrupt' as const : 'refused' as const }) };
      }));
      retryAfterMs = msg.retryAfterMs > 0 ? msg.retryAfterMs : null;
      if (results.length === 0) continue;
      if (info && pieces.size === info.pieceCount) {
        control.send({ kind: 'report', taskId, results });
        break;
      }
      pull(results);
    }
    control.send({ kind: 'leave', taskId });
    const ordered = Array.from({ length: info!.pieceCount }, (_, i) => pieces.get(i)!);
    return { bytes: Buffer.concat(ordered), info: info!, taskId, piecesFromSupernode };
  } finally {
    control.close();
    for (const client of dataClients.values()) client.close();
  }
}

export function sha256(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}
