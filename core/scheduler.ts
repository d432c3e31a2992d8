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
 *    (CDN has the piece, fewer uploads run than `supernodeSlotsFor` allows — `supernodeUpLimit`, or
 *    fewer when the supernode's rate is known and no faster than a few of the peers' — and fewer than
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
import { Blacklists, type Blame } from './blacklist.ts';
import { supernodeSlotsFor, uploadSlotsFor, type CoreConfig } from './config.ts';
import { RarityOrder } from './rarity-order.ts';
import { Placements, type Placement } from './topology.ts';
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

/**
 * Holders a pull may look at in all, in units of `sourceScanLimit`: bounds a pull's work when
 * many candidates have only busy holders, while letting it reach past the rarest pieces.
 */
const SOURCE_CHECKS_PER_SCAN = 32;
/** A requester missing at most this many pieces has its candidates found from its own bitmap. */
const MISSING_SCAN_MAX = 64;
/** Fields of a peer's record (TaskSwarm `records`): running downloads, pieces held, then the bitmap. */
const RECORD_RUNNING = 0;
const RECORD_HELD = 1;
const RECORD_WORDS = 2;
/** Records list the running pieces when a peer may run at most this many (the seed's limit is 4). */
const RECORD_MAX_RUNNING = 16;

export class TaskSwarm {
  /** Pieces the supernode's CDN holds (it may serve them as a special peer). */
  private readonly cdnReady: Bitset;
  /**
   * Pieces whose digest the supernode's own CDN computed. Only these are scheduled: a peer
   * cannot verify a piece without it, and digests claimed by peers are never trusted (a
   * supernode taking over after a failover schedules a piece once its CDN has fetched it).
   */
  private readonly digestKnown: Bitset;
  /** The pieces with a known digest, rarest first (rarity-order.ts). */
  private readonly order: RarityOrder;
  /**
   * Pieces a pull found with no free source for anyone: every holder busy (all of them looked
   * at) and the supernode unable to serve it. Cleared the moment that can change — a holder of
   * the piece finishes an upload, a new holder appears, the supernode frees a slot — so later
   * pulls skip these pieces without looking at their holders again.
   */
  private readonly noFreeSource: Uint32Array;
  readonly blacklists: Blacklists;
  /** Peers holding each piece (may contain gone peers until a scan removes them). */
  private readonly holders: number[][];
  private readonly holderCursor: Int32Array;
  private readonly copies: Int32Array;
  private readonly inFlight: Int32Array;
  private readonly fromSupernode: Int32Array;

  private readonly have: Bitset[] = [];
  private readonly running: RunningPiece[][] = [];
  /**
   * Per-peer flags and counters the holder scans read for every holder they look at, as typed
   * arrays (dense, one cache line covers many peers) grown by doubling in addPeer.
   */
  private uploads = new Int32Array(16);
  private gone = new Uint8Array(16);
  private cdnOnly = new Uint8Array(16);
  /** 1 when the peer serves no one now: cdn-only, or every upload slot taken (what a holder scan tests first). */
  private full = new Uint8Array(16);
  private readonly anchor: number[] = [];
  private uploadRate = new Float64Array(16);
  /**
   * One record per peer, `recordStride` ints: [running downloads, pieces held, held-piece bitmap
   * words...], mirroring `running[peer].length` and `have[peer]`. Waking walks many waiters and
   * asks each "short of work? could this source serve you?": one record read per waiter instead
   * of a Bitset, its word array and a running list scattered over the heap.
   */
  private records = new Int32Array(0);
  private readonly recordStride: number;
  /**
   * Where a record lists the pieces running (after the bitmap; as many slots as a peer may run,
   * min(piecesPerPull, peerDownLimit)), or -1 when that limit is over RECORD_MAX_RUNNING and
   * the running lists are read instead.
   */
  private readonly recordPiecesAt: number;
  private uploadSlots = new Float64Array(16);
  /**
   * Uploads the supernode runs at once for requesters that can also use peers (supernodeSlotsFor;
   * follows the fastest peer that joins). A requester that may use nothing but the supernode
   * (cdn pattern, self-isolated) may take it up to `supernodeUpLimit`.
   */
  private supernodeSlots: number;
  /** cdn-pattern peers present (they may take the supernode up to supernodeUpLimit, so waking counts to it). */
  private cdnOnlyPeers = 0;
  /** Peers present that may relay pieces (not cdn pattern, not gone): with fewer than two, no one relays. */
  private relayPeers = 0;
  private supernodeUploadsRunning = 0;
  /** Highest upload rate any peer of the swarm declared (or was assumed to have). */
  private fastestUploadRate = 0;

  private readonly candidateKeys: Float64Array;
  /** The pull being answered (one object reused: a pull allocates no walk state). */
  private lastScanAllBusy = false;
  /** The best holder found so far by bestHolder, and its key (reused: choosing a source allocates nothing). */
  private readonly pick = { holder: -1, share: -1, closeness: -1, rate: 0 };
  /** What one download slot needs to keep a requester's link busy: the assumed rate / download slots. */
  private readonly fairShareRate: number;
  /** IDC and location of every peer (topology.ts). */
  private readonly placements = new Placements();
  private readonly walk = { requester: 0, supernodeOnly: false, rotation: 0, runningAtStart: 0, anchor: 0, checksLeft: 0, freedSource: SUPERNODE_INDEX };

  /** `supernodeUploadBytesPerSec`: the supernode's upload rate, 0 = unknown (supernodeSlotsFor). */
  constructor(readonly pieceCount: number, private readonly cfg: CoreConfig, private readonly supernodeUploadBytesPerSec = 0) {
    this.cdnReady = new Bitset(pieceCount);
    this.noFreeSource = new Uint32Array(Math.ceil(pieceCount / 32));
    this.digestKnown = new Bitset(pieceCount);
    this.order = new RarityOrder(pieceCount);
    this.blacklists = new Blacklists(cfg);
    this.holders = Array.from({ length: pieceCount }, () => []);
    this.holderCursor = new Int32Array(pieceCount);
    this.copies = new Int32Array(pieceCount);
    this.inFlight = new Int32Array(pieceCount);
    this.fromSupernode = new Int32Array(pieceCount);
    this.candidateKeys = new Float64Array(pieceCount);
    this.fairShareRate = cfg.assumedUploadBytesPerSec / Math.min(cfg.piecesPerPull, cfg.peerDownLimit);
    this.supernodeSlots = supernodeSlotsFor(cfg, supernodeUploadBytesPerSec, 0);
    const runLimit = Math.min(cfg.piecesPerPull, cfg.peerDownLimit);
    const listed = runLimit <= RECORD_MAX_RUNNING ? Math.max(0, runLimit) : 0;
    this.recordPiecesAt = listed > 0 ? RECORD_WORDS + Math.ceil(pieceCount / 32) : -1;
    this.recordStride = RECORD_WORDS + Math.ceil(pieceCount / 32) + listed;
    this.records = new Int32Array(16 * this.recordStride);
  }

  get peerCount(): number { return this.have.length; }
  get supernodeUploads(): number { return this.supernodeUploadsRunning; }

  /**
   * Add a peer; returns its dense index. `cdnOnly`: takes from the supernode only, serves none.
   * `uploadRateBytesPerSec` 0 = unknown (the configured assumption is used). `placement`: the
   * IDC and location it declared (topology.ts), used to prefer near sources.
   */
  addPeer(cdnOnly: boolean, anchorPiece: number, uploadRateBytesPerSec = 0, placement: Placement = {}): number {
    const index = this.have.length;
    this.placements.add(placement);
    this.have.push(new Bitset(this.pieceCount));
    this.running.push([]);
    if (index === this.gone.length) this.growPeers(2 * index);
    this.records.fill(0, index * this.recordStride, (index + 1) * this.recordStride);
    this.uploads[index] = 0;
    this.gone[index] = 0;
    this.cdnOnly[index] = cdnOnly ? 1 : 0;
    const rate = uploadRateBytesPerSec > 0 ? uploadRateBytesPerSec : this.cfg.assumedUploadBytesPerSec;
    this.uploadRate[index] = rate;
    if (!cdnOnly) {
      this.fastestUploadRate = Math.max(this.fastestUploadRate, rate);
      this.relayPeers++;
    } else this.cdnOnlyPeers++;
    this.uploadSlots[index] = uploadSlotsFor(this.cfg, uploadRateBytesPerSec);
    this.refreshFull(index);
    this.supernodeSlots = supernodeSlotsFor(this.cfg, this.supernodeUploadBytesPerSec, this.fastestUploadRate);
    this.anchor.push(Math.min(Math.max(anchorPiece, 0), Math.max(this.pieceCount - 1, 0)));
    return index;
  }

  /** The CDN computed the piece's digest: from now on it may be scheduled. */
  markDigestKnown(piece: number): void {
    if (piece < 0 || piece >= this.pieceCount || !this.digestKnown.add(piece)) return;
    this.order.list(piece, this.rarityOf(piece));
  }

  isDigestKnown(piece: number): boolean { return this.digestKnown.has(piece); }

  /** The CDN stored the piece: the supernode can serve it. */
  markCdnReady(piece: number): boolean {
    if (piece < 0 || piece >= this.pieceCount) return false;
    clearBit(this.noFreeSource, piece);
    return this.cdnReady.add(piece);
  }

  /** The CDN lost its copy (deleted on disk): the supernode cannot serve it until it is fetched again. */
  dropCdnPiece(piece: number): boolean {
    return piece >= 0 && piece < this.pieceCount && this.cdnReady.delete(piece);
  }

  isCdnReady(piece: number): boolean { return this.cdnReady.has(piece); }

  /** Record that a peer holds a verified piece (resume, migration, or a reported success). */
  addHolding(peer: number, piece: number): void {
    if (this.gone[peer] || piece < 0 || piece >= this.pieceCount) return;
    if (!this.have[peer].add(piece)) return;
    const at = peer * this.recordStride;
    this.records[at + RECORD_WORDS + (piece >>> 5)] |= 1 << (piece & 31);
    this.records[at + RECORD_HELD]++;
    this.holders[piece].push(peer);
    this.copies[piece]++;
    clearBit(this.noFreeSource, piece);
    this.reorder(piece);
  }

  hasPiece(peer: number, piece: number): boolean { return this.have[peer].has(piece); }
  isComplete(peer: number): boolean { return this.have[peer].full; }
  isGone(peer: number): boolean { return this.gone[peer] === 1; }
  isCdnOnly(peer: number): boolean { return this.cdnOnly[peer] === 1; }
  runningOf(peer: number): readonly RunningPiece[] { return this.running[peer]; }
  uploadsOf(peer: number): number { return this.uploads[peer]; }
  uploadSlotsOf(peer: number): number { return this.uploadSlots[peer]; }
  copiesOf(piece: number): number { return this.copies[piece]; }
  inFlightOf(piece: number): number { return this.inFlight[piece]; }
  supernodeCopiesOf(piece: number): number { return this.fromSupernode[piece]; }
  missingCount(peer: number): number { return this.pieceCount - this.records[peer * this.recordStride + RECORD_HELD]; }
  /** Pieces the peer is downloading now (runningOf(peer).length). */
  runningCount(peer: number): number { return this.records[peer * this.recordStride + RECORD_RUNNING]; }

  /**
   * Uploads `source` (a peer, or SUPERNODE_INDEX) could still take on now; of `piece` when given
   * (the supernode serves at most `supernodeCopiesPerPiece` copies of one piece at a time).
   */
  freeUploadSlots(source: number, piece = -1): number {
    if (source === SUPERNODE_INDEX) {
      const free = (this.cdnOnlyPeers > 0 ? this.cfg.supernodeUpLimit : this.supernodeSlotsNow()) - this.supernodeUploadsRunning;
      const cap = this.cfg.supernodeCopiesPerPiece;
      return Math.max(0, piece >= 0 && cap > 0 ? Math.min(free, cap - this.fromSupernode[piece]) : free);
    }
    if (this.gone[source] || this.cdnOnly[source]) return 0;
    return Math.max(0, this.uploadSlots[source] - this.uploads[source]);
  }

  /**
   * Could `source` serve `requester` something it lacks and is not already fetching: `piece`, or
   * (piece -1) any piece with a known digest? A cheap word-wise test used to pick whom to wake;
   * the pull itself still decides by the full rules (rarest first, limits, blacklists).
   */
  offersTo(source: number, requester: number, piece = -1): boolean {
    // Every test below is a pure read and the answer is their conjunction: they run cheapest
    // and likeliest-to-fail first, reading the peers' records (see `records`).
    if (this.gone[requester]) return false;
    if (piece >= 0 && !(Number.isInteger(piece) && piece < this.pieceCount)) return false;
    const records = this.records;
    const stride = this.recordStride;
    const lacksAt = requester * stride + RECORD_WORDS;
    const runningCount = records[requester * stride + RECORD_RUNNING];
    if (piece >= 0) {
      const word = piece >>> 5;
      const mask = 1 << (piece & 31);
      if ((records[lacksAt + word] & mask) !== 0) return false;
      if (source === SUPERNODE_INDEX) {
        if (!this.cdnReady.has(piece) || !this.digestKnown.has(piece)) return false;
      } else {
        if (source === requester || this.gone[source] || this.cdnOnly[source]) return false;
        if (this.cdnOnly[requester] || this.blacklists.isIsolated(requester) || !this.blacklists.allows(requester, source)) return false;
        if ((records[source * stride + RECORD_WORDS + word] & mask) === 0 || !this.digestKnown.has(piece)) return false;
      }
      if (runningCount > 0) {
        if (this.recordPiecesAt >= 0) {
          const list = requester * stride + this.recordPiecesAt;
          for (let r = 0; r < runningCount; r++) if (records[list + r] === piece) return false;
        } else {
          const running = this.running[requester];
          for (let r = 0; r < running.length; r++) if (running[r].piece === piece) return false;
        }
      }
      return true;
    }
    const known = this.digestKnown.words;
    const words = known.length;
    let holds: Uint32Array | Int32Array;
    let holdsAt = 0;
    if (source === SUPERNODE_INDEX) {
      holds = this.cdnReady.words;
    } else {
      if (source === requester || this.gone[source] || this.cdnOnly[source]) return false;
      if (this.cdnOnly[requester] || this.blacklists.isIsolated(requester) || !this.blacklists.allows(requester, source)) return false;
      holds = records;
      holdsAt = source * stride + RECORD_WORDS;
    }
    for (let w = 0; w < words; w++) {
      let bits = holds[holdsAt + w] & known[w] & ~records[lacksAt + w];
      if (bits === 0) continue;
      if (runningCount > 0) {
        if (this.recordPiecesAt >= 0) {
          const list = requester * stride + this.recordPiecesAt;
          for (let r = 0; r < runningCount; r++) {
            const running = records[list + r];
            if (running >>> 5 === w) bits &= ~(1 << (running & 31));
          }
        } else {
          const running = this.running[requester];
          for (let r = 0; r < running.length; r++) if (running[r].piece >>> 5 === w) bits &= ~(1 << (running[r].piece & 31));
        }
      }
      if (bits !== 0) return true;
    }
    return false;
  }

  /** The peer left (connection closed, crashed): release its downloads and stop using it as a source. */
  removePeer(peer: number): void {
    if (this.gone[peer]) return;
    for (const run of this.running[peer]) this.release(run);
    this.running[peer] = [];
    this.records[peer * this.recordStride + RECORD_RUNNING] = 0;
    this.gone[peer] = 1;
    if (this.cdnOnly[peer]) this.cdnOnlyPeers--;
    else this.relayPeers--;
    this.blacklists.markGone(peer);
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
  settle(peer: number, piece: number, source: number, ok: boolean, blame: Blame): boolean {
    const list = this.running[peer];
    let at = list.length - 1;
    while (at >= 0 && (list[at].piece !== piece || list[at].source !== source)) at--;
    if (at < 0) return false;
    this.release(list[at]);
    list.splice(at, 1);
    this.unlistRunning(peer, piece);
    if (ok) {
      this.addHolding(peer, piece);
      if (source !== SUPERNODE_INDEX) this.blacklists.recordSuccess(peer, source);
    } else if (source !== SUPERNODE_INDEX) {
      if (blame === 'accuse') this.blacklists.recordFailure(peer, source);
      else if (blame === 'local') this.blacklists.addLocal(peer, source);
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

  /**
   * Answer a pull: choose pieces and sources for `requester` and mark them running. Candidates
   * are tried rarest first until `wanted` have a source, the candidates run out, or the pull
   * has looked at `sourceChecksPerPull` holders: a requester whose rarest pieces are all busy
   * (everyone wants the newest pieces) still gets older pieces from idle holders. `freedSource`
   * is a peer known to have a free slot (the one whose capacity woke this requester): it is
   * weighed for every candidate it holds, even when the holder scan would not reach it.
   */
  schedule(requester: number, nowMs: number, rng: Rng, freedSource = SUPERNODE_INDEX): Scheduled[] {
    const cfg = this.cfg;
    const mine = this.running[requester];
    const wanted = Math.min(cfg.piecesPerPull, cfg.peerDownLimit) - mine.length;
    if (wanted <= 0 || this.gone[requester]) return [];
    const walk = this.walk;
    walk.requester = requester;
    walk.supernodeOnly = this.cdnOnly[requester] === 1 || this.blacklists.isIsolated(requester);
    walk.rotation = randomInt(rng, this.pieceCount);
    walk.runningAtStart = mine.length;
    walk.anchor = this.anchor[requester];
    walk.checksLeft = SOURCE_CHECKS_PER_SCAN * cfg.sourceScanLimit;
    walk.freedSource = freedSource;
    const out: Scheduled[] = [];
    if (this.missingCount(requester) <= MISSING_SCAN_MAX) {
      const records = this.records;
      const haveAt = requester * this.recordStride + RECORD_WORDS;
      const knownWords = this.digestKnown.words;
      let count = 0;
      for (let w = 0; w < knownWords.length; w++) {
        let bits = ~records[haveAt + w] & knownWords[w];
        while (bits !== 0) {
          const low = bits & -bits;
          bits ^= low;
          count = this.consider((w << 5) + (31 - Math.clz32(low)), count);
        }
      }
      this.tryCandidates(count, wanted, nowMs, out);
    } else {
      const order = this.order;
      for (let i = 0; i < order.listed && out.length < wanted && walk.checksLeft > 0;) {
        const end = order.levelEnd(i);
        let count = 0;
        for (; i < end; i++) count = this.consider(order.pieceAt(i), count);
        this.tryCandidates(count, wanted, nowMs, out);
      }
    }
    // Rarity changes are applied after the walk: the order is not reshuffled under it, and every
    // candidate was ranked by the swarm as the pull found it.
    for (const { piece } of out) this.reorder(piece);
    if (out.length > 0) this.anchor[requester] = out[out.length - 1].piece;
    return out;
  }

  /** Try the first `count` gathered candidates in key order until `wanted` are running. */
  private tryCandidates(count: number, wanted: number, nowMs: number, out: Scheduled[]): void {
    if (count === 0) return;
    const n = this.pieceCount;
    const walk = this.walk;
    const keys = this.candidateKeys;
    if (count <= 16) insertionSort(keys, count);
    else keys.subarray(0, count).sort();
    const mine = this.running[walk.requester];
    for (let c = 0; c < count && out.length < wanted && walk.checksLeft > 0; c++) {
      const piece = (keys[c] % n + walk.rotation) % n;
      const source = this.chooseSource(walk.requester, piece, walk.supernodeOnly);
      if (source === null) continue;
      mine.push({ piece, source, startedMs: nowMs });
      this.listRunning(walk.requester, piece);
      this.inFlight[piece]++;
      if (source === SUPERNODE_INDEX) {
        this.supernodeUploadsRunning++;
        this.fromSupernode[piece]++;
      } else {
        this.uploads[source]++;
        this.refreshFull(source);
      }
      out.push({ piece, source });
    }
  }

  /**
   * Rank one piece for the walk's requester: append its key (rarity, distance, rotation; smaller
   * first, distinct because the rotation is) when it is a candidate. Returns the new count.
   */
  private consider(piece: number, count: number): number {
    const n = this.pieceCount;
    const walk = this.walk;
    if (this.holds(walk.requester, piece)) return count;
    const mine = this.running[walk.requester];
    for (let r = 0; r < mine.length; r++) if (mine[r].piece === piece) return count;
    if (!this.cdnReady.has(piece) && (walk.supernodeOnly || this.copies[piece] <= 0)) return count;
    let distance: number;
    if (walk.runningAtStart > 0) {
      distance = n;
      for (let r = 0; r < walk.runningAtStart; r++) distance = Math.min(distance, Math.abs(piece - mine[r].piece));
    } else {
      distance = Math.abs(piece - walk.anchor);
    }
    this.candidateKeys[count] = (this.rarityOf(piece) * (n + 1) + distance) * n + ((piece - walk.rotation + n) % n);
    return count + 1;
  }

  /** Supernode uploads allowed now: the rate-derived slots while peers can relay, else `supernodeUpLimit`. */
  private supernodeSlotsNow(): number {
    return this.relayPeers >= 2 ? this.supernodeSlots : this.cfg.supernodeUpLimit;
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
    if (!supernodeOnly && (this.noFreeSource[piece >>> 5] & (1 << (piece & 31))) !== 0) return null;
    let everyHolderBusy = true;
    if (!supernodeOnly) {
      const peer = this.bestHolder(requester, piece);
      if (peer !== null) return peer;
      everyHolderBusy = this.lastScanAllBusy;
    }
    const cap = this.cfg.supernodeCopiesPerPiece;
    if (this.cdnReady.has(piece) && this.supernodeUploadsRunning < (supernodeOnly ? this.cfg.supernodeUpLimit : this.supernodeSlotsNow())
      && (cap === 0 || supernodeOnly || this.fromSupernode[piece] < cap)) return SUPERNODE_INDEX;
    if (!supernodeOnly && everyHolderBusy) this.noFreeSource[piece >>> 5] |= 1 << (piece & 31);
    return null;
  }

  /**
   * The best holder among up to `sourceScanLimit` from the piece's cursor, or null. Best, in
   * order: (1) the share of a download slot it can fill — its expected rate for one more upload,
   * declared upload rate / (uploads + 1), over the fleet's fair share per download slot,
   * counted up to a full slot; (2) closeness to the requester (topology.ts: same IDC, then
   * common location prefix); (3) the expected rate itself. So a slow uplink is used only when
   * nothing faster is free, and among holders that can each fill a slot the nearest wins:
   * topology costs nothing in rate, and nothing in rarity (the piece is already chosen).
   * Sets `lastScanAllBusy` when it looked at every holder and each was refused for a reason that
   * holds for any requester (full, or serving no one).
   */
  private bestHolder(requester: number, piece: number): number | null {
    const list = this.holders[piece];
    const pick = this.pick;
    pick.holder = -1;
    pick.share = -1;
    pick.closeness = -1;
    pick.rate = 0;
    let scanned = 0;
    let allBusy = true;
    const closest = this.placements.closest(requester);
    const limit = Math.min(this.cfg.sourceScanLimit, this.walk.checksLeft);
    let i = list.length > 0 ? this.holderCursor[piece] % list.length : 0;
    while (list.length > 0 && scanned < limit && scanned < list.length) {
      const holder = list[i];
      if (this.gone[holder]) {
        list[i] = list[list.length - 1];
        list.pop();
        if (i >= list.length) i = 0;
        continue;
      }
      scanned++;
      if (++i === list.length) i = 0;
      if (this.full[holder] === 1) continue;
      allBusy = false;
      if (holder === requester || !this.blacklists.allows(requester, holder)) continue;
      // An idle holder as fast as the fastest peer of the swarm, as close as any can be: nothing beats it.
      if (this.considerHolder(requester, holder) && pick.rate >= this.fastestUploadRate && pick.closeness >= closest) break;
    }
    this.walk.checksLeft -= scanned;
    this.holderCursor[piece] = i;
    this.lastScanAllBusy = allBusy && scanned >= list.length;
    const freed = this.walk.freedSource;
    if (freed !== SUPERNODE_INDEX && freed !== pick.holder && freed !== requester && this.holds(freed, piece) && !this.gone[freed]
      && !this.cdnOnly[freed] && this.uploads[freed] < this.uploadSlots[freed] && this.blacklists.allows(requester, freed)
      && this.considerHolder(requester, freed)) {
      this.lastScanAllBusy = false;
    }
    return pick.holder >= 0 ? pick.holder : null;
  }

  /** Make `holder` the pick if it beats the current one (see bestHolder); returns whether it did. */
  private considerHolder(requester: number, holder: number): boolean {
    const pick = this.pick;
    const rate = this.uploadRate[holder] / (this.uploads[holder] + 1);
    const share = Math.min(1, rate / this.fairShareRate);
    if (share < pick.share) return false;
    const closeness = this.placements.closeness(requester, holder);
    if (share === pick.share && (closeness < pick.closeness || (closeness === pick.closeness && rate <= pick.rate))) return false;
    pick.holder = holder;
    pick.share = share;
    pick.closeness = closeness;
    pick.rate = rate;
    return true;
  }

  private refreshFull(peer: number): void {
    this.full[peer] = this.cdnOnly[peer] === 1 || this.uploads[peer] >= this.uploadSlots[peer] ? 1 : 0;
  }

  /**
   * Whether the peer holds the piece, from its record's bitmap (what `have[peer].has` says for a
   * piece in range, without reaching the peer's Bitset and its words elsewhere on the heap).
   */
  private holds(peer: number, piece: number): boolean {
    return (this.records[peer * this.recordStride + RECORD_WORDS + (piece >>> 5)] & (1 << (piece & 31))) !== 0;
  }

  /** The record's side of `running[peer].push` (see `records`). */
  private listRunning(peer: number, piece: number): void {
    const at = peer * this.recordStride;
    const count = this.records[at + RECORD_RUNNING]++;
    if (this.recordPiecesAt >= 0) this.records[at + this.recordPiecesAt + count] = piece;
  }

  /** The record's side of taking `piece` out of `running[peer]` (a peer runs a piece once). */
  private unlistRunning(peer: number, piece: number): void {
    const at = peer * this.recordStride;
    const count = --this.records[at + RECORD_RUNNING];
    if (this.recordPiecesAt < 0) return;
    const list = at + this.recordPiecesAt;
    for (let r = 0; r <= count; r++) {
      if (this.records[list + r] === piece) {
        this.records[list + r] = this.records[list + count];
        return;
      }
    }
  }

  private growPeers(capacity: number): void {
    const grow = <T extends Int32Array | Uint8Array | Float64Array>(old: T, next: T): T => { next.set(old); return next; };
    this.uploads = grow(this.uploads, new Int32Array(capacity));
    this.gone = grow(this.gone, new Uint8Array(capacity));
    this.cdnOnly = grow(this.cdnOnly, new Uint8Array(capacity));
    this.full = grow(this.full, new Uint8Array(capacity));
    this.uploadRate = grow(this.uploadRate, new Float64Array(capacity));
    this.uploadSlots = grow(this.uploadSlots, new Float64Array(capacity));
    this.records = grow(this.records, new Int32Array(capacity * this.recordStride));
  }

  private release(run: RunningPiece): void {
    this.inFlight[run.piece]--;
    this.reorder(run.piece);
    const hint = this.noFreeSource;
    if (run.source === SUPERNODE_INDEX) {
      this.supernodeUploadsRunning--;
      this.fromSupernode[run.piece]--;
      // The supernode may serve any piece it holds again.
      hint.fill(0);
    } else {
      this.uploads[run.source]--;
      this.refreshFull(run.source);
      // The source has a free slot again for every piece it holds.
      const records = this.records;
      const holdsAt = run.source * this.recordStride + RECORD_WORDS;
      for (let w = 0; w < hint.length; w++) hint[w] &= ~records[holdsAt + w];
    }
  }
}

function clearBit(words: Uint32Array, i: number): void {
  words[i >>> 5] &= ~(1 << (i & 31));
}

/** Sort keys[0, count) ascending in place (a pull's few candidates: no subarray, no call into the runtime). */
function insertionSort(keys: Float64Array, count: number): void {
  for (let i = 1; i < count; i++) {
    const key = keys[i];
    let j = i - 1;
    while (j >= 0 && keys[j] > key) {
      keys[j + 1] = keys[j];
      j--;
    }
    keys[j + 1] = key;
  }
}
