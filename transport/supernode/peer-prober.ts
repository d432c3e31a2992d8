/**
 * The supernode's own check of an accused peer (core `probe-peer`, blacklist.ts): fetch one piece
 * from the peer's uploader over the data plane, with a grant this supernode signs for itself,
 * hash what comes back and answer `probe-result`: `served` for bytes matching the CDN's digest,
 * `failed` for anything else a requester would blame (refused, unreachable, corrupt, timed out),
 * `inconclusive` when the peer was only busy. The core decides what the answer means.
 */
import { createHash } from 'node:crypto';
import type { Grant } from '../../core/protocol.ts';
import { SUPERNODE } from '../../core/protocol.ts';
import type { SupernodeEffect, SupernodeInput } from '../../core/supernode-io.ts';
import { BufferPool } from '../buffer-pool.ts';
import { PieceClient } from '../dfget/piece-client.ts';
import type { GrantKey } from '../grants.ts';
import { monotonicNowMs } from '../real-timer.ts';

type ProbePeer = Extract<SupernodeEffect, { kind: 'probe-peer' }>;

export class PeerProber {
  /** Probes are rare: a pool that keeps no buffers between them. */
  private readonly client = new PieceClient(new BufferPool(0));
  private closed = false;

  constructor(private readonly key: GrantKey, private readonly timeoutMs: number, private readonly feed: (input: SupernodeInput) => void) {}

  probe(effect: ProbePeer): void {
    void this.run(effect);
  }

  close(): void {
    this.closed = true;
    this.client.close();
  }

  private async run(effect: ProbePeer): Promise<void> {
    const grant: Grant = this.key.issue({
      taskId: effect.taskId, peer: SUPERNODE, expiresAtMs: monotonicNowMs() + this.timeoutMs + 60_000, signature: '',
    });
    const outcome = await this.client.fetch({
      addr: effect.sourceAddr, taskId: effect.taskId, piece: effect.piece, sizeBytes: effect.sizeBytes, timeoutMs: this.timeoutMs, grant,
    });
    if (this.closed) return;
    let result: Extract<SupernodeInput, { kind: 'probe-result' }>['outcome'];
    let detail: string;
    if (outcome.ok) {
      const digest = `sha256:${createHash('sha256').update(outcome.bytes).digest('hex')}`;
      outcome.release();
      result = digest === effect.digest ? 'served' : 'failed';
      detail = result === 'served' ? 'verified' : `its bytes hash to ${digest}, not ${effect.digest}`;
    } else {
      result = outcome.failure === 'busy' ? 'inconclusive' : 'failed';
      detail = `${outcome.failure}: ${outcome.detail}`;
    }
    this.feed({ kind: 'probe-result', taskId: effect.taskId, peerId: effect.peerId, outcome: result, detail });
  }
}
