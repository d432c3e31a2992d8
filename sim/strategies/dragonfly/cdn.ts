/**
 * The supernode's CDN, simulated: it fetches the source into the supernode's cache the way the
 * real CDN (transport/cdn) does — by the core's plan (core/source-fetch.ts) — and announces every
 * piece the moment it lands.
 *
 * Theory of operation. On `cdn-fetch` the CDN probes the origin (one round trip: the real CDN's
 * GET of byte 0), then tells the supernode the length (`cdn-length`) and lists the task on the
 * supernode's uploader. `planSourceFetch` cuts the pieces the cache lacks into runs of contiguous
 * pieces; `concurrency` of them are fetched at once as ranged GETs, the others wait for one to
 * finish. A GET costs one origin round trip before its first byte, then streams its run: each
 * piece is one flow from the origin and the next piece's flow starts the instant the previous
 * one ends (one response body, no gap), so parallel runs share the origin's uplink as parallel
 * connections do. A landed piece is stored, listed on the supernode's uploader (`have-piece`) and
 * announced (`cdn-piece`) at once; when every piece is stored, `cdn-done`. A lost piece
 * (`cdn-refetch-piece`) is fetched again as a run of its own. Each piece leaves the origin once
 * per fetch, so origin egress is one copy of the file.
 *
 * Not modelled: failed source requests and their retries (`sourceFetchAttempts`,
 * `sourceRetryDelayMs`). The simulated origin never fails; a fault that made it fail would need
 * them. Revalidation and credential checks are answered by supernodes.ts.
 */
import { Bitset } from '../../../core/bitset.ts';
import { pieceBytes, planPieces, type PiecePlan } from '../../../core/pieces.ts';
import { planSourceFetch, type PieceRun } from '../../../core/source-fetch.ts';
import type { DragonflyRun } from './run.ts';
import { FILE_DIGEST, pieceDigest, TASK_ID } from './task.ts';

/** One supernode's fetch of the task's source. */
class SourceFetch {
  readonly stored: Bitset;
  /** Runs planned and not started yet. */
  readonly waiting: PieceRun[] = [];
  /** Ranged GETs in progress, and how many may be. */
  streams = 0;
  concurrency = 1;
  /** cdn-done sent (once per fetch; a refetched piece is only announced). */
  done = false;
  /** Transfers of this fetch, to cut when it is dropped. */
  readonly live = new Set<number>();
  constructor(readonly plan: PiecePlan) { this.stored = new Bitset(plan.pieceCount); }
}

export class SimulatedCdn {
  private readonly fetches: (SourceFetch | null)[];
  private readonly probedEvent: number;
  private readonly streamEvent: number;

  constructor(private readonly run: DragonflyRun) {
    this.fetches = new Array<SourceFetch | null>(run.world.scenario.supernodeCount).fill(null);
    this.probedEvent = run.sim.on('cdn-probed', (slot) => this.onProbed(slot));
    this.streamEvent = run.sim.on('cdn-stream-start', (id) => this.onStreamStart(id));
  }

  /** Pieces supernode `sn`'s cache holds (null before its first fetch). */
  stored(sn: number): Bitset | null { return this.fetches[sn]?.stored ?? null; }

  /** `cdn-fetch`: start fetching the source into supernode sn's cache. */
  fetch(sn: number, pieceSizeBytes: number): void {
    this.drop(sn);
    const fetch = new SourceFetch(planPieces(this.run.world.scenario.fileSizeBytes, pieceSizeBytes));
    this.fetches[sn] = fetch;
    this.run.sim.post(this.run.sim.nowMs + this.originRttMs(sn), this.probedEvent, fetch, sn);
  }

  /** `cdn-refetch-piece`: the cached copy of `piece` was lost; fetch it again as a run of one. */
  refetch(sn: number, piece: number): void {
    const fetch = this.fetches[sn];
    if (!fetch || !fetch.stored.delete(piece)) return;
    fetch.waiting.push({ first: piece, end: piece + 1 });
    this.startWaitingRuns(sn, fetch);
  }

  /** `cdn-drop`: forget the fetch; its streams are cut. */
  drop(sn: number): void {
    const fetch = this.fetches[sn];
    if (!fetch) return;
    const { sim, transfers } = this.run;
    for (const id of fetch.live) {
      const transfer = transfers.get(id);
      if (transfer.flowId >= 0) {
        sim.network.cancelFlow(sim.nowMs, transfer.flowId);
        transfers.end(id);
      } else transfer.cancelled = true;
    }
    this.fetches[sn] = null;
  }

  /** A stream's flow was cut (its supernode crashed): the stream ends with it. */
  cut(id: number): void {
    const transfer = this.run.transfers.get(id);
    this.fetches[transfer.owner]?.live.delete(id);
    this.run.transfers.end(id);
  }

  /** The last byte of a CDN piece arrived: store and announce it, then stream on. */
  pieceLanded(id: number): void {
    const { sim, transfers, supernodes } = this.run;
    const transfer = transfers.get(id);
    const sn = transfer.owner;
    const fetch = this.fetches[sn]!;
    const piece = transfer.piece;
    transfer.flowId = -1;
    fetch.stored.add(piece);
    supernodes.applyUploader(sn, { kind: 'have-piece', taskId: TASK_ID, piece });
    supernodes.apply(sn, { kind: 'cdn-piece', taskId: TASK_ID, piece, digest: pieceDigest(piece) });
    if (!fetch.done && fetch.stored.full) {
      fetch.done = true;
      supernodes.apply(sn, { kind: 'cdn-done', taskId: TASK_ID, totalBytes: fetch.plan.totalBytes, fileDigest: FILE_DIGEST });
    }
    if (this.fetches[sn] !== fetch) {
      transfers.end(id);
      return;
    }
    if (piece + 1 < transfer.runEnd) {
      transfer.piece = piece + 1;
      transfer.sizeBytes = pieceBytes(fetch.plan, transfer.piece);
      transfer.flowId = sim.network.startFlow(sim.nowMs, sim.originNode, sim.supernodeNodes[sn], transfer.sizeBytes, 0, id);
      return;
    }
    fetch.live.delete(id);
    transfers.end(id);
    fetch.streams--;
    this.startWaitingRuns(sn, fetch);
  }

  private onProbed(slot: number): void {
    const sn = this.run.sim.targetOf(slot);
    const fetch = this.run.sim.take<SourceFetch>(slot);
    if (this.fetches[sn] !== fetch || this.run.supernodes.isDead(sn)) return;
    const { pieceCount } = fetch.plan;
    this.run.supernodes.apply(sn, { kind: 'cdn-length', taskId: TASK_ID, totalBytes: fetch.plan.totalBytes });
    this.run.supernodes.applyUploader(sn, { kind: 'list-task', taskId: TASK_ID, pieceCount });
    const plan = planSourceFetch(this.run.world.supernodeConfig, pieceCount, (piece) => fetch.stored.has(piece));
    fetch.concurrency = plan.concurrency;
    fetch.waiting.push(...plan.runs);
    this.startWaitingRuns(sn, fetch);
  }

  /** Open a ranged GET for each waiting run while fewer than `concurrency` stream. */
  private startWaitingRuns(sn: number, fetch: SourceFetch): void {
    const { sim, transfers } = this.run;
    while (fetch.streams < fetch.concurrency && fetch.waiting.length > 0) {
      const run = fetch.waiting.shift()!;
      fetch.streams++;
      const id = transfers.open({
        kind: 'cdn', owner: sn, piece: run.first, source: 'origin', sourceNode: sim.originNode,
        sizeBytes: pieceBytes(fetch.plan, run.first), flowId: -1, cancelled: false, runEnd: run.end, onConnection: false,
      });
      fetch.live.add(id);
      sim.at(sim.nowMs + this.originRttMs(sn), this.streamEvent, id);
    }
  }

  /** The GET's first byte arrives: the run's first piece starts flowing. */
  private onStreamStart(id: number): void {
    const { sim, transfers, supernodes } = this.run;
    const transfer = transfers.get(id);
    if (transfer.cancelled || supernodes.isDead(transfer.owner)) {
      this.fetches[transfer.owner]?.live.delete(id);
      transfers.end(id);
      return;
    }
    transfer.flowId = sim.network.startFlow(sim.nowMs, sim.originNode, sim.supernodeNodes[transfer.owner], transfer.sizeBytes, 0, id);
  }

  private originRttMs(sn: number): number {
    const sim = this.run.sim;
    return 2 * sim.latencyMs(sim.supernodeNodes[sn], sim.originNode);
  }
}
