/** Fixed-size set of piece indices, one bit each, with a maintained population count. */
export class Bitset {
  readonly words: Uint32Array;
  private population = 0;

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 0) throw new Error(`bitset size must be a whole number, got ${size}`);
    this.words = new Uint32Array(Math.ceil(size / 32));
  }

  static of(size: number, indices: Iterable<number>): Bitset {
    const set = new Bitset(size);
    for (const i of indices) set.add(i);
    return set;
  }

  has(i: number): boolean {
    // A fractional index would otherwise be truncated by the bit arithmetic and alias a held piece.
    return Number.isInteger(i) && i >= 0 && i < this.size && (this.words[i >>> 5] & (1 << (i & 31))) !== 0;
  }

  /** Returns true when i was newly added. */
  add(i: number): boolean {
    this.check(i);
    const mask = 1 << (i & 31);
    if (this.words[i >>> 5] & mask) return false;
    this.words[i >>> 5] |= mask;
    this.population++;
    return true;
  }

  /** Returns true when i was present. */
  delete(i: number): boolean {
    this.check(i);
    const mask = 1 << (i & 31);
    if (!(this.words[i >>> 5] & mask)) return false;
    this.words[i >>> 5] &= ~mask;
    this.population--;
    return true;
  }

  get count(): number { return this.population; }
  get full(): boolean { return this.population === this.size; }

  clear(): void {
    this.words.fill(0);
    this.population = 0;
  }

  toArray(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.size; i++) if (this.has(i)) out.push(i);
    return out;
  }

  private check(i: number): void {
    if (!Number.isInteger(i) || i < 0 || i >= this.size) throw new Error(`piece index ${i} outside 0..${this.size - 1}`);
  }
}
