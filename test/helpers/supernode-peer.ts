/**
 * A scripted, well-behaved peer for supernode tests: speaks the control plane and the data plane
 * by the book without dfget, so supernode tests do not depend on the client's code. It downloads
 * every piece from the sources it is assigned, checks each against the digest in the assignment,
 * and reports results in its next pull.
 */
import { createHash } from 'node:crypto';
import type WebSocket from 'ws';
import type { Grant, PeerToSupernode, PieceResult, SupernodeToPeer, TaskInfoMsg, TaskSpec } from '../../core/protocol.ts';
import { ScriptControl, ScriptData as DataClient, type Closed } from '../../bench/testbed/script-peer.ts';
import { taskIdFor } from '../../transport/task-id.ts';

export type { Closed } from '../../bench/testbed/script-peer.ts';

/**
 * Control-plane connection that queues what the supernode sends: bench/testbed's ScriptControl,
 * with what tests want on top — `next` that rejects when nothing comes, `poll` that rejects once
 * the connection has closed, and a promise of the close.
 */
export class ControlClient {
  readonly closed: Promise<Closed>;

  private constructor(private readonly script: ScriptControl) {
    this.closed = new Promise((resolve) => script.ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  static async connect(addr: string, peerId: string): Promise<ControlClient> {
    return new ControlClient(await ScriptControl.connect(addr, peerId));
  }

  get ws(): WebSocket { return this.script.ws; }
  get closedWith(): Closed | null { return this.script.closedWith; }

  send(msg: PeerToSupernode): void { this.script.send(msg); }

  /** The next message (in order); rejects when the connection closes or nothing comes in time. */
  async next(timeoutMs = 10_000): Promise<SupernodeToPeer> {
    const msg = await this.poll(timeoutMs);
    if (!msg) throw new Error(`no message from the supernode within ${timeoutMs} ms`);
    return msg;
  }

  /** The next message, or null when nothing came within `timeoutMs`; rejects when the connection closes. */
  async poll(timeoutMs: number): Promise<SupernodeToPeer | null> {
    const msg = await this.script.poll(timeoutMs);
    const closed = this.script.closedWith;
    if (!msg && closed) throw new Error(`control connection closed (${closed.code} ${closed.reason})`);
    return msg;
  }

  close(): void { this.script.close(); }
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
      if (msg.kind === 'file-digest') continue;
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
