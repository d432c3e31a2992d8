/**
 * A whole-file hash (SHA-256, MD5) computed as a file's pieces land, in file order: the hash
 * must see the bytes in order, so it follows the prefix of pieces that are ready. A piece that
 * lands at the head of the prefix is hashed from the bytes in hand; one that lands ahead of its
 * turn is read back (from the page cache: it was just written) once the prefix reaches it. The
 * hashing runs on the hash worker, so the event loop goes on reading sockets meanwhile.
 *
 * Used by the CDN (the file's digest, recorded with the cache) and by dfget (the digest it reports
 * and checks against --digest / --md5).
 */
import type { BufferPool } from './buffer-pool.ts';
import { RunningHash, type HashAlgorithm } from './hash-worker.ts';

export interface PrefixSource {
  pieceCount: number;
  /** Bytes of `piece`. */
  sizeOf(piece: number): number;
  /** Whether `piece` is stored and verified (may be read back). */
  isReady(piece: number): boolean;
  /** Read `piece` as stored into `into` (exactly its size). */
  readBack(piece: number, into: Buffer): Promise<void>;
}

export class PrefixHash {
  private readonly hashes: RunningHash[];
  private next = 0;
  private chain: Promise<void> = Promise.resolve();
  /** Bytes of pieces whose `offer` is queued: hashed from here rather than read back. */
  private readonly offered = new Map<number, Buffer>();

  constructor(private readonly source: PrefixSource, algorithms: HashAlgorithm[], private readonly pool: BufferPool) {
    this.hashes = algorithms.map((algorithm) => new RunningHash(algorithm));
  }

  /** Pieces hashed so far (the prefix). */
  get hashedPieces(): number { return this.next; }
  get complete(): boolean { return this.next >= this.source.pieceCount; }

  /**
   * `piece` is ready and `bytes` are its contents: hash as far as the prefix now reaches.
   * Resolves once `bytes` are no longer needed (hashed, or left to be read back later).
   */
  offer(piece: number, bytes: Buffer): Promise<void> {
    this.offered.set(piece, bytes);
    return this.queue().finally(() => {
      if (this.offered.get(piece) === bytes) this.offered.delete(piece);
    });
  }

  /** Hash as far as the prefix of ready pieces reaches (reading pieces back as needed). */
  advance(): Promise<void> {
    return this.queue();
  }

  /** Lowercase hex of each algorithm, in the order given; every piece must have been hashed. */
  async hex(): Promise<string[]> {
    await this.advance();
    if (!this.complete) throw new Error(`the whole-file hash stopped at piece ${this.next} of ${this.source.pieceCount}`);
    return Promise.all(this.hashes.map((hash) => hash.hex()));
  }

  /** No result will be asked for (the plan changed). */
  drop(): void {
    for (const hash of this.hashes) hash.drop();
  }

  private queue(): Promise<void> {
    const step = this.chain.then(() => this.hashPrefix());
    this.chain = step.catch(() => {});
    return step;
  }

  private async hashPrefix(): Promise<void> {
    if (this.hashes.length === 0) {
      this.next = this.source.pieceCount;
      return;
    }
    while (this.next < this.source.pieceCount && this.source.isReady(this.next)) {
      const piece = this.next;
      const inHand = this.offered.get(piece);
      if (inHand) {
        await Promise.all(this.hashes.map((hash) => hash.update(inHand)));
      } else {
        const size = this.source.sizeOf(piece);
        const lease = this.pool.acquire(size);
        try {
          const bytes = lease.subarray(0, size);
          await this.source.readBack(piece, bytes);
          await Promise.all(this.hashes.map((hash) => hash.update(bytes)));
        } finally {
          this.pool.release(lease);
        }
      }
      this.next++;
    }
  }
}
