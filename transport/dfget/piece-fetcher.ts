/**
 * The fetch side of a download: carries out the core's `fetch-piece` and `cancel-fetch` effects.
 * A fetch waits for the task's and the node's rate limits, asks the source (another peer's
 * uploader or the supernode) over the data plane within the time the core gave it (`timeoutMs`:
 * the core's own piece timeout fires first), hashes what came and reports `piece-fetched` with
 * that digest or the failure. The core decides whether the bytes are good; until it says
 * `write-piece`, they are held here (`take`), and dropped when it does not.
 */
import type { PeerEffect, PeerInput } from '../../core/peer-io.ts';
import { SUPERNODE } from '../../core/protocol.ts';
import type { TokenBucket } from '../../core/token-bucket.ts';
import { throttle } from '../throttle.ts';
import type { LogFn } from './home.ts';
import { PieceClient } from './piece-client.ts';
import { pieceDigest } from './task-store.ts';

type FetchPiece = Extract<PeerEffect, { kind: 'fetch-piece' }>;

export interface Received { bytes: Buffer; digest: string }

export class PieceFetcher {
  private readonly client = new PieceClient();
  private readonly running = new Map<number, AbortController>();
  private readonly received = new Map<number, Received>();
  /** Bytes received and not rejected, by where they came from (for progress). */
  fromPeersBytes = 0;
  fromSupernodeBytes = 0;

  constructor(
    private readonly buckets: readonly TokenBucket[],
    /** Cancels every fetch when the download ends. */
    private readonly downloadSignal: AbortSignal,
    private readonly feed: (input: PeerInput) => void,
    private readonly log: LogFn,
  ) {}

  /** Fetches started and not finished. */
  get inFlight(): number { return this.running.size; }

  start(effect: FetchPiece): void {
    const control = new AbortController();
    this.running.set(effect.piece, control);
    this.log('info', `fetching piece ${effect.piece} from ${effect.source} at ${effect.sourceAddr} (${this.running.size} in flight)`);
    void this.fetch(effect, control);
  }

  cancel(piece: number): void {
    this.running.get(piece)?.abort();
    this.running.delete(piece);
  }

  cancelAll(): void {
    for (const control of this.running.values()) control.abort();
    this.running.clear();
  }

  /** The bytes the core just verified for `piece` (undefined if none are held). */
  take(piece: number): Received | undefined {
    const held = this.received.get(piece);
    this.received.delete(piece);
    return held;
  }

  close(): void {
    this.cancelAll();
    this.client.close();
  }

  private async fetch(effect: FetchPiece, control: AbortController): Promise<void> {
    const signal = AbortSignal.any([control.signal, this.downloadSignal]);
    const sizeBytes = effect.endByte - effect.startByte;
    try {
      await throttle(this.buckets, sizeBytes, signal);
    } catch {
      return;
    }
    const outcome = await this.client.fetch({
      addr: effect.sourceAddr, taskId: effect.taskId, piece: effect.piece, sizeBytes, timeoutMs: effect.timeoutMs, signal,
    });
    if (this.running.get(effect.piece) === control) this.running.delete(effect.piece);
    if (!outcome.ok) {
      if (outcome.failure === 'cancelled') return;
      this.log('warn', `piece ${effect.piece} from ${effect.source}: ${outcome.failure} (${outcome.detail})`);
      this.feed({ kind: 'piece-fetched', piece: effect.piece, source: effect.source, digest: null, failure: outcome.failure });
      return;
    }
    const digest = pieceDigest(outcome.bytes);
    this.log('info', `piece ${effect.piece} received from ${effect.source} (${effect.sourceAddr})`);
    this.received.set(effect.piece, { bytes: outcome.bytes, digest });
    this.count(effect.source, sizeBytes);
    this.feed({ kind: 'piece-fetched', piece: effect.piece, source: effect.source, digest });
    // Still held: the core rejected the bytes (wrong digest) or no longer wanted them.
    if (this.received.delete(effect.piece)) this.count(effect.source, -sizeBytes);
  }

  private count(source: string, bytes: number): void {
    if (source === SUPERNODE) this.fromSupernodeBytes += bytes;
    else this.fromPeersBytes += bytes;
  }
}
