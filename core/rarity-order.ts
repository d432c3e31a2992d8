/**
 * Pieces kept in rarest-first order as their rarity changes, so a pull visits the rarest pieces
 * first and stops as soon as it has enough, instead of scoring every piece of the file.
 *
 * Theory of operation (the bucketed order of libtorrent's piece picker). `order` holds every
 * piece, sorted by key; the pieces with key k occupy order[levelStart[k] .. levelStart[k + 1]).
 * A piece's key is its rarity (copies + copies in flight) once it is schedulable, and the top
 * key `unlisted` before that, so pieces no one may be sent for yet sit at the end and are never
 * visited. A key moves by one in O(1): the piece swaps places with the first (or last) piece of
 * its level and the boundary between the two levels shifts by one. Larger moves (a piece
 * becoming schedulable) are made of such steps. The key space grows (doubling) when a rarity
 * reaches the top, which keeps the table sized by the swarm, not by a configured maximum.
 *
 * A caller walks levels with `levelEnd(i)`: from position i, the pieces up to levelEnd(i) all
 * share one key.
 */
export class RarityOrder {
  private readonly order: Int32Array;
  private readonly position: Int32Array;
  private readonly key: Int32Array;
  private levelStart: Int32Array;
  /** Key of pieces not yet listed (always the top key). */
  private unlisted: number;
  private listedCount = 0;

  constructor(readonly pieceCount: number, initialKeys = 16) {
    this.order = new Int32Array(pieceCount);
    this.position = new Int32Array(pieceCount);
    this.key = new Int32Array(pieceCount);
    this.unlisted = Math.max(1, initialKeys);
    this.levelStart = new Int32Array(this.unlisted + 2);
    for (let piece = 0; piece < pieceCount; piece++) {
      this.order[piece] = piece;
      this.position[piece] = piece;
      this.key[piece] = this.unlisted;
    }
    // Every level below the top is empty; the top holds every piece.
    this.levelStart.fill(0, 0, this.unlisted + 1);
    this.levelStart[this.unlisted + 1] = pieceCount;
  }

  /** Listed (schedulable) pieces: they are order[0 .. listed). */
  get listed(): number { return this.listedCount; }
  pieceAt(i: number): number { return this.order[i]; }
  keyOf(piece: number): number { return this.key[piece]; }
  isListed(piece: number): boolean { return this.key[piece] !== this.unlisted; }
  /** End (exclusive) of the level that holds position i. */
  levelEnd(i: number): number { return this.levelStart[this.key[this.order[i]] + 1]; }

  /** Make a piece schedulable with its current rarity; no-op when it already is. */
  list(piece: number, rarity: number): void {
    if (this.isListed(piece)) return;
    this.reserve(rarity);
    while (this.key[piece] > rarity) this.stepDown(piece);
    this.listedCount++;
  }

  /** Change a listed piece's key to its new rarity (one step in the common case). */
  update(piece: number, rarity: number): void {
    if (!this.isListed(piece)) return;
    this.reserve(rarity);
    while (this.key[piece] < rarity) this.stepUp(piece);
    while (this.key[piece] > rarity) this.stepDown(piece);
  }

  /** Grow the key space so that `rarity` stays below the top key. */
  private reserve(rarity: number): void {
    if (rarity < this.unlisted) return;
    let top = this.unlisted;
    while (top <= rarity) top *= 2;
    const grown = new Int32Array(top + 2);
    grown.set(this.levelStart.subarray(0, this.unlisted + 1));
    // The old top level becomes empty; the levels up to the new top start where it did.
    grown.fill(this.levelStart[this.unlisted], this.unlisted + 1, top + 1);
    grown[top + 1] = this.pieceCount;
    for (let i = this.levelStart[this.unlisted]; i < this.pieceCount; i++) this.key[this.order[i]] = top;
    this.levelStart = grown;
    this.unlisted = top;
  }

  /** Key k -> k + 1: swap with the last piece of level k, then level k + 1 starts one earlier. */
  private stepUp(piece: number): void {
    const k = this.key[piece];
    const last = this.levelStart[k + 1] - 1;
    this.swap(this.position[piece], last);
    this.levelStart[k + 1]--;
    this.key[piece] = k + 1;
  }

  /** Key k -> k - 1: swap with the first piece of level k, then level k starts one later. */
  private stepDown(piece: number): void {
    const k = this.key[piece];
    const first = this.levelStart[k];
    this.swap(this.position[piece], first);
    this.levelStart[k]++;
    this.key[piece] = k - 1;
  }

  private swap(i: number, j: number): void {
    if (i === j) return;
    const a = this.order[i];
    const b = this.order[j];
    this.order[i] = b;
    this.order[j] = a;
    this.position[a] = j;
    this.position[b] = i;
  }
}
