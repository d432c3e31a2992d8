/**
 * The whole-file SHA-256 of a cached file, computed while the file is being fetched instead of in
 * a second pass over the cache at the end (which made `cdn-done` trail the last piece by a read
 * of the whole file): pieces are hashed in file order as they are stored, on the hash worker
 * (transport/prefix-hash.ts); the core's fetch plan keeps them nearly in order.
 */
import type { BufferPool } from '../buffer-pool.ts';
import { PrefixHash } from '../prefix-hash.ts';
import type { CacheMeta, CdnStore } from './cdn-store.ts';

export class FileDigest {
  private readonly prefix: PrefixHash;
  /** Whether any piece was stored (not just found intact) since this version's digest began. */
  touched = false;

  constructor(store: CdnStore, pool: BufferPool, taskId: string, readonly meta: CacheMeta) {
    this.prefix = new PrefixHash({
      pieceCount: meta.pieceCount,
      sizeOf: (piece) => meta.pieces[piece]?.sizeBytes ?? 0,
      isReady: (piece) => meta.pieces[piece] !== null,
      readBack: (piece, into) => store.readPieceInto(taskId, piece, into),
    }, ['sha256'], pool);
  }

  /** `piece` was just stored; `bytes` are its contents. Resolves once they are no longer needed. */
  stored(piece: number, bytes: Buffer): Promise<void> {
    this.touched = true;
    return this.prefix.offer(piece, bytes);
  }

  /** `sha256:<hex>` of the whole file; every piece must be stored. */
  async digest(): Promise<string> {
    const [hex] = await this.prefix.hex();
    return `sha256:${hex}`;
  }
}
