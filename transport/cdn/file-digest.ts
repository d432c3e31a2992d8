/**
 * The whole-file SHA-256, computed while the file is being fetched instead of in a second pass
 * over the cache at the end (which made `cdn-done` trail the last piece by a read of the whole
 * file). SHA-256 must see the bytes in order: a piece stored when it is the next one is hashed
 * from the bytes in hand; pieces stored ahead of their turn (parallel runs, a resumed cache) are
 * read back from disk once the hash reaches them.
 */
import { createHash, type Hash } from 'node:crypto';
import type { BufferPool } from '../buffer-pool.ts';
import type { CacheMeta, CdnStore } from './cdn-store.ts';

export class FileDigest {
  private readonly hash: Hash = createHash('sha256');
  private next = 0;
  private catchingUp = false;
  /** Whether any piece was stored (not just found intact) since this version's digest began. */
  touched = false;
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly store: CdnStore, private readonly pool: BufferPool, private readonly taskId: string,
    readonly meta: CacheMeta) {}

  /** `piece` was just stored; `bytes` are its contents, valid only during this call. */
  stored(piece: number, bytes: Buffer): void {
    this.touched = true;
    if (piece === this.next && !this.catchingUp) {
      this.hash.update(bytes);
      this.next++;
    }
    this.catchUp();
  }

  /** `sha256:<hex>` of the whole file; every piece must be stored. */
  async digest(): Promise<string> {
    this.catchUp();
    await this.chain;
    if (this.next !== this.meta.pieceCount) throw new Error(`file digest stopped at piece ${this.next} of ${this.meta.pieceCount}`);
    return `sha256:${this.hash.digest('hex')}`;
  }

  private catchUp(): void {
    this.chain = this.chain.then(async () => {
      if (this.next >= this.meta.pieceCount || !this.meta.pieces[this.next]) return;
      this.catchingUp = true;
      const scratch = this.pool.acquire(this.meta.pieceSizeBytes);
      try {
        for (let record = this.meta.pieces[this.next]; record; record = this.meta.pieces[this.next]) {
          const bytes = scratch.subarray(0, record.sizeBytes);
          await this.store.readPieceInto(this.taskId, this.next, bytes);
          this.hash.update(bytes);
          this.next++;
        }
      } finally {
        this.catchingUp = false;
        this.pool.release(scratch);
      }
    });
  }
}
