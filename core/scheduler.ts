/**
 * The supernode's piece scheduler for one task: who holds what, who is busy, and the answer to a
 * peer's pull.
 *
 * Theory of operation. The swarm keeps, per piece, the peers holding it (`holders`) and the
 * copies in flight; per peer, its pieces, its running downloads and its running uploads. A pull
 * by requester R is answered with up to `min(piecesPerPull, peerDownLimit) - running(R)` pieces:
 *
 * 1. candidates: pieces the CDN has ready or some peer holds, minus what R has or runs, and
 *    only once the CDN has computed their digest (peers' digests are never trusted);
 * 2. order: rarest first — fewest copies, counting copies in flight so that peers pulling at the
 *    same moment spread over different pieces — then nearest to what R is downloading now
 *    (or to the last piece R was given: writes stay near-sequential), then a rotation drawn
 *    from the seeded RNG (ties are broken at random, reproducibly);
 * 3. source: a holder that R's local blacklist and the global blacklist allow (and not suspended
 *    while the supernode probes it, blacklist.ts), not gone, not in
 *    `cdn` pattern, below its upload slots (`uploadSlotsFor`: `peerUpLimit` scaled by its declared
 *    upload rate), with the best expected rate for one more upload —
 *    its declared upload rate / (running uploads + 1), so among equal peers the least loaded
 *    wins and a slow uplink is used only when it is the best there is; otherwise the supernode
 *    (CDN has the piece, fewer than `supernodeUpLimit` uploads run, and fewer than
 *    `supernodeCopiesPerPiece` of them are of this piece, unless R may use nothing else). An isolated or
 *    `cdn`-pattern R only ever gets the supernode. A candidate with no source is skipped.
 *
 * Cost per pull is O(pieces) for the candidate pass plus, per tried candidate, at most
 * `sourceScanLimit` holders: holders are scanned from a rotating cursor (so load spreads over all
 * holders over time) and the best in that window wins.
 * No pull scans every holder of every piece, so 10,000 peers x 256 pieces stays cheap.
 * Gone holders are removed lazily when a scan meets them.
 */
import { Bitset } from './bitset.ts';
import { Blacklists } from './blacklist.ts';
import { uploadSlotsFor, type CoreConfig } from './config.ts';
import type { Rng } from './rng.ts';
import { randomInt } from './rng.ts';

/** Source index meaning the supernode's CDN. */
export const SUPERNODE_INDEX = -1;

export interface RunningPiece {
  piece: number;
  source: number;
  startedMs: number;
}

export interface Scheduled {
  piece: number;
  source: number;
}

/** Extra candidates tried beyond the wanted count when sources are busy; bounds a pull's work. */
const EXTRA_TRIES = 16;

export class TaskSwarm {
  readonly cdnReady: Bitset;
  /**
   * Pieces whose digest the supernode's own CDN computed. Only these are scheduled: a peer
   * cannot verify a piece without it, and digests claimed by peers are never trusted (a
   * supernode taking over after a failover schedules a piece once its CDN has fetched it).
   */
  readonly digestKnown: Bitset;
  readonly blacklists: Blacklists;
  /** Peers holding each piece (may contain gone peers until a scan removes them). */
  private readonly holders: number[][];
  private readonly holderCursor: Int32Array;
  private readonly copies: Int32Array;
  private readonly inFlight: Int32Array;
  private readonly fromSupernode: Int32Array;

  private readonly have: Bitset[] = [];
  private readonly running: RunningPiece[][] = [];
  private readonly uploads: number[] = [];
  private readonly gone: boolean[] = [];
  private readonly cdnOnly: boolean[] = [];
  private readonly anchor: number[] = [];
  private readonly uploadRate: number[] = [];
  private readonly uploadSlots: number[] = [];
  private supernodeUploadsRunning = 0;

  private readonly candidatePieces: Int32Array;
  private readonly candidateKeys: Float64Array;

  constructor(readonly pieceCount: number, private readonly cfg: CoreConfig) {
    this.cdnReady = new Bitset(pieceCount);
    this.digestKnown = new Bitset(pieceCount);
    this.blacklists = new Blacklists(cfg);
    this.holders = Array.from({ length: pieceCount }, () => []);
    this.holderCursor = new Int32Array(pieceCount);
    this.copies = new Int32Array(pieceCount);
    this.inFlight = new Int32Array(pieceCount);
    this.fromSupernode = new Int32Array(pieceCount);
    this.candidatePieces = new Int32Array(pieceCount);
    this.candidateKeys = new Float64Array(pieceCount);
  }

  get peerCount(): number { return this.have.length; }
  get supernodeUploads(): number { return this.supernodeUploadsRunning; }

  /**
   * Add a peer; returns its dense index. `cdnOnly`: takes from the supernode only, serves none.
   * `uploadRateBytesPerSec` 0 = unknown (the configured assumption is used).
   */
  addPeer(cdnOnly: boolean, anchorPiece: number, uploadRateBytesPerSec = 0): number {
    const index = this.have.length;
    this.have.push(new Bitset(this.pieceCount));
    this.running.push([]);
    this.uploads.push(0);
    this.gone.push(false);
    this.cdnOnly.push(cdnOnly);
    this.uploadRate.push(uploadRateBytesPerSec > 0 ? uploadRateBytesPerSec : this.cfg.assumedUploadBytesPerSec);
    this.uploadSlots.push(uploadSlotsFor(this.cfg, uploadRateBytesPerSec));
    this.anchor.push(Math.min(Math.max(anchorPiece, 0), Math.max(this.pieceCount - 1, 0)));
    return index;
  }

  /** Record that a peer holds a verified piece (resume, migration, or a reported success). */
  addHolding(peer: number, piece: number): void {
    if (this.gone[peer] || piece < 0 || piece >= this.pieceCount) return;
    if (!this.have[peer].add(piece)) return;
    this.holders[piece].push(peer);
    this.copies[piece]++;
  }

  hasPiece(peer: number, piece: number): boolean { return this.have[peer].has(piece); }
  isComplete(peer: number): boolean { return this.have[peer].full; }
  isGone(peer: number): boolean { return this.gone[peer]; }
  isCdnOnly(peer: number): boolean { return this.cdnOnly[peer]; }
  runningOf(peer: number): readonly RunningPiece[] { return this.running[peer]; }
  uploadsOf(peer: number): number { return this.uploads[peer]; }
  uploadSlotsOf(peer: number): number { return this.uploadSlots[peer]; }
  copiesOf(piece: number): number { return this.copies[piece]; }
  inFlightOf(piece: number): number { return this.inFlight[piece]; }
  supernodeCopiesOf(piece: number): number { return this.fromSupernode[piece]; }
  missingCount(peer: number): number { return this.pieceCount - this.have[peer].count; }

  /** The peer left (connection closed, crashed): release its downloads and stop using it as a source. */
  removePeer(peer: number): void {
    if (this.gone[peer]) return;
    for (const run of this.running[peer]) this.release(run);
    this.running[peer] = [];
    this.gone[peer] = true;
    this.blacklists.markGone(peer);
    const have = this.have[peer];
    for (let piece = 0; piece < this.pieceCount; piece++) if (have.has(piece)) this.copies[piece]--;
  }

  /**
   * Settle a running piece. Returns false (and changes nothing) when the peer was not running that
   * piece from that source — a late, duplicate or invented report.
   */
  settle(peer: number, piece: number, source: number, ok: boolean, blame: boolean): boolean {
    const list = this.running[peer];
    const at = list.findIndex((run) => run.piece === piece && run.source === source);
    if (at < 0) return false;
    this.release(list[at]);
    list.splice(at, 1);
    if (ok) {
      this.addHolding(peer, piece);
      if (source !== SUPERNODE_INDEX) this.blacklists.recordSuccess(peer, source);
    } else if (blame && source !== SUPERNODE_INDEX) {
      this.blacklists.recordFailure(peer, source);
    }
    return true;
  }

  /** Running pieces started at or before `cutoffMs`, as [peer, run] pairs (for expiry). */
  expired(cutoffMs: number): Array<[number, RunningPiece]> {
    const out: Array<[number, RunningPiece]> = [];
    for (let peer = 0; peer < this.running.length; peer++) {
      for (const run of this.running[peer]) if (run.startedMs <= cutoffMs) out.push([peer, run]);
    }
    return out;
  }

  anyRunning(): boolean {
    for (const list of this.running) if (list.length > 0) return true;
    return false;
  }

  /** Answer a pull: choose pieces and sources for `requester` and mark them running. */
  schedule(requester: number, nowMs: number, rng: Rng): Scheduled[] {
    const cfg = this.cfg;
    const mine = this.running[requester];
    const wanted = Math.min(cfg.piecesPerPull, cfg.peerDownLimit) - mine.length;
    if (wanted <= 0 || this.gone[requester]) return [];
    const supernodeOnly = this.cdnOnly[requester] || this.blacklists.isIsolated(requester);
    const count = this.collectCandidates(requester, supernodeOnly, rng, wanted + EXTRA_TRIES);
    const out: Scheduled[] = [];
    for (let i = 0; i < count && out.length < wanted; i++) {
      const piece = this.candidatePieces[i];
      const source = this.chooseSource(requester, piece, supernodeOnly);
      if (source === null) continue;
      mine.push({ piece, source, startedMs: nowMs });
      this.inFlight[piece]++;
      if (source === SUPERNODE_INDEX) {
        this.supernodeUploadsRunning++;
        this.fromSupernode[piece]++;
      } else this.uploads[source]++;
      this.anchor[requester] = piece;
      out.push({ piece, source });
    }
    return out;
  }

  /**
   * Fill the candidate arrays with the best `limit` candidates in key order (insertion into a
   * short sorted buffer: one pass over the pieces); returns how many.
   * Key = (copies, distance, rotation), smaller first; keys are distinct (rotation is).
   */
  private collectCandidates(requester: number, supernodeOnly: boolean, rng: Rng, limit: number): number {
    const n = this.pieceCount;
    const have = this.have[requester];
    const mine = this.running[requester];
    const rotation = randomInt(rng, n);
    const haveWords = have.words;
    const knownWords = this.digestKnown.words;
    let count = 0;
    for (let piece = 0; piece < n; piece++) {
      // Whole words of pieces held, or not yet digested, are skipped at once: a peer missing a
      // few pieces of 300,000 costs ~10,000 word reads per pull, not 300,000 piece checks.
      const w = piece >>> 5;
      if ((piece & 31) === 0 && (knownWords[w] & ~haveWords[w]) === 0) {
        piece += 31;
        continue;
      }
      if (have.has(piece) || !this.digestKnown.has(piece)) continue;
      let runningHere = false;
      for (const run of mine) if (run.piece === piece) { runningHere = true; break; }
      if (runningHere) continue;
      const ready = this.cdnReady.has(piece);
      if (!ready && (supernodeOnly || this.copies[piece] <= 0)) continue;
      let distance: number;
      if (mine.length > 0) {
        distance = n;
        for (const run of mine) distance = Math.min(distance, Math.abs(piece - run.piece));
      } else {
        distance = Math.abs(piece - this.anchor[requester]);
      }
      const rarity = Math.max(0, this.copies[piece]) + this.inFlight[piece];
      const key = (rarity * (n + 1) + distance) * n + ((piece - rotation + n) % n);
      if (count === limit && key >= this.candidateKeys[count - 1]) continue;
      let at = count < limit ? count++ : count - 1;
      while (at > 0 && this.candidateKeys[at - 1] > key) {
        this.candidateKeys[at] = this.candidateKeys[at - 1];
        this.candidatePieces[at] = this.candidatePieces[at - 1];
        at--;
      }
      this.candidateKeys[at] = key;
      this.candidatePieces[at] = piece;
    }
    return count;
  }

  private chooseSource(requester: number, piece: number, supernodeOnly: boolean): number | null {
    if (!supernodeOnly) {
      const peer = this.bestHolder(requester, piece);
      if (peer !== null) return peer;
    }
    const cap = this.cfg.supernodeCopiesPerPiece;
    if (this.cdnReady.has(piece) && this.supernodeUploadsRunning < this.cfg.supernodeUpLimit
      && (cap === 0 || supernodeOnly || this.fromSupernode[piece] < cap)) return SUPERNODE_INDEX;
    return null;
  }

  private bestHolder(requester: number, piece: number): number | null {
    const list = this.holders[piece];
    let best: number | null = null;
    let bestRate = 0;
    let scanned = 0;
    let i = list.length > 0 ? this.holderCursor[piece] % list.length : 0;
    while (list.length > 0 && scanned < this.cfg.sourceScanLimit && scanned < list.length) {
      const holder = list[i];
      if (this.gone[holder]) {
        list[i] = list[list.length - 1];
        list.pop();
        if (i >= list.length) i = 0;
        continue;
      }
      scanned++;
      const load = this.uploads[holder];
      const rate = this.uploadRate[holder] / (load + 1);
      if (holder !== requester && !this.cdnOnly[holder] && load < this.uploadSlots[holder]
        && this.blacklists.allows(requester, holder) && rate > bestRate) {
        best = holder;
        bestRate = rate;
      }
      i = (i + 1) % list.length;
    }
    this.holderCursor[piece] = i;
    return best;
  }

  private release(run: RunningPiece): void {
    this.inFlight[run.piece]--;
    if (run.source === SUPERNODE_INDEX) {
      this.supernodeUploadsRunning--;
      this.fromSupernode[run.piece]--;
    } else this.uploads[run.source]--;
  }
}
