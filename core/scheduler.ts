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
 * 3. source: a holder that R's local blacklist and the global blacklist allow, not gone, not in
 *    `cdn` pattern, below its upload slots (`uploadSlotsFor`: `peerUpLimit` scaled by its declared
 *    upload rate), with the best expected rate for one more upload —
 *    its declared upload rate / (running uploads + 1), so among equal peers the least loaded
 *    wins and a slow uplink is used only when it is the best there is; otherwise the supernode
 *    (CDN has the piece, fewer than `supernodeUpLimit` uploads run, and fewer than
 *    `supernodeCopiesPerPiece` of them are of this piece, unless R may use nothing else). An isolated or
 *    `cdn`-pattern R only ever gets the supernode. A candidate with no source is skipped.
 *
 * Cost per pull: the candidate pass walks the pieces rarest first (rarity-order.ts keeps them in
 * that order as copies land and flights start and end) and stops after the rarity level that
 * gave it enough candidates; a requester missing few pieces has those visited from its bitmap.
 * Per tried candidate, at most `sourceScanLimit` holders: holders are scanned from a rotating
 * cursor (so load spreads over all holders over time) and the best in that window wins.
 * No pull scores every piece or scans every holder, so 10,000 peers x 512 pieces stays cheap.
 * Gone holders are removed lazily when a scan meets them.
 */
import { Bitset } from './bitset.ts';
import { Blacklists } from './blacklist.ts';
import { uploadSlotsFor, type CoreConfig } from './config.ts';
import { RarityOrder } from './rarity-order.ts';
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
/** A requester missing at most this many pieces has its candidates found from its own bitmap. */
const MISSING_SCAN_MAX = 64;

export class TaskSwarm {
  readonly cdnReady: Bitset;
  /**
   * Pieces whose digest the supernode's own CDN computed. Only these are scheduled: a peer
   * cannot verify a piece without it, and digests claimed by peers are never trusted (a
   * supernode taking over after a failover schedules a piece once its CDN has fetched it).
   */
  private readonly digestKnown: Bitset;
  /** The pieces with a known digest, rarest first (rarity-order.ts). */
  private readonly order: RarityOrder;
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
    this.order = new RarityOrder(pieceCount);
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

  /** The CDN computed the piece's digest: from now on it may be scheduled. */
  markDigestKnown(piece: number): void {
    if (piece < 0 || piece >= this.pieceCount || !this.digestKnown.add(piece)) return;
    this.order.list(piece, this.rarityOf(piece));
  }

  isDigestKnown(piece: number): boolean { return this.digestKnown.has(piece); }

  /** Record that a peer holds a verified piece (resume, migration, or a reported success). */
  addHolding(peer: number, piece: number): void {
    if (this.gone[peer] || piece < 0 || piece >= this.pieceCount) return;
    if (!this.have[peer].add(piece)) return;
    this.holders[piece].push(peer);
    this.copies[piece]++;
    this.reorder(piece);
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
    const have = this.have[peer];
    for (let piece = 0; piece < this.pieceCount; piece++) {
      if (!have.has(piece)) continue;
      this.copies[piece]--;
      this.reorder(piece);
    }
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
      this.reorder(piece);
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
   * short sorted buffer); returns how many. Key = (rarity, distance, rotation), smaller first;
   * keys are distinct (rotation is). Pieces are visited rarest level first and the walk stops
   * after the level that filled the buffer (every later piece has a larger key); a requester
   * missing only a few pieces has them visited straight from its bitmap instead.
   */
  private collectCandidates(requester: number, supernodeOnly: boolean, rng: Rng, limit: number): number {
    const n = this.pieceCount;
    const rotation = randomInt(rng, n);
    const missing = n - this.have[requester].count;
    let count = 0;
    if (missing <= MISSING_SCAN_MAX) {
      const haveWords = this.have[requester].words;
      const knownWords = this.digestKnown.words;
      for (let w = 0; w < haveWords.length; w++) {
        let bits = ~haveWords[w] & knownWords[w];
        while (bits !== 0) {
          const low = bits & -bits;
          bits ^= low;
          count = this.consider(requester, (w << 5) + (31 - Math.clz32(low)), supernodeOnly, rotation, limit, count);
        }
      }
      return count;
    }
    const order = this.order;
    const listed = order.listed;
    for (let i = 0; i < listed;) {
      const end = order.levelEnd(i);
      for (; i < end; i++) count = this.consider(requester, order.pieceAt(i), supernodeOnly, rotation, limit, count);
      if (count >= limit) break;
    }
    return count;
  }

  /** Score one piece for `requester` and keep it if it is among the best `limit`; returns the new count. */
  private consider(requester: number, piece: number, supernodeOnly: boolean, rotation: number, limit: number, count: number): number {
    const n = this.pieceCount;
    if (this.have[requester].has(piece)) return count;
    const mine = this.running[requester];
    for (let r = 0; r < mine.length; r++) if (mine[r].piece === piece) return count;
    if (!this.cdnReady.has(piece) && (supernodeOnly || this.copies[piece] <= 0)) return count;
    let distance: number;
    if (mine.length > 0) {
      distance = n;
      for (let r = 0; r < mine.length; r++) distance = Math.min(distance, Math.abs(piece - mine[r].piece));
    } else {
      distance = Math.abs(piece - this.anchor[requester]);
    }
    const key = (this.rarityOf(piece) * (n + 1) + distance) * n + ((piece - rotation + n) % n);
    if (count === limit && key >= this.candidateKeys[count - 1]) return count;
    let at = count < limit ? count++ : count - 1;
    while (at > 0 && this.candidateKeys[at - 1] > key) {
      this.candidateKeys[at] = this.candidateKeys[at - 1];
      this.candidatePieces[at] = this.candidatePieces[at - 1];
      at--;
    }
    this.candidateKeys[at] = key;
    this.candidatePieces[at] = piece;
    return count;
  }

  /** Copies held plus copies in flight: what rarest-first orders by. */
  private rarityOf(piece: number): number {
    return Math.max(0, this.copies[piece]) + this.inFlight[piece];
  }

  /** Keep the piece's place in the rarest-first order after its copies or flights changed. */
  private reorder(piece: number): void {
    this.order.update(piece, this.rarityOf(piece));
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
    this.reorder(run.piece);
    if (run.source === SUPERNODE_INDEX) {
      this.supernodeUploadsRunning--;
      this.fromSupernode[run.piece]--;
    } else this.uploads[run.source]--;
  }
}
