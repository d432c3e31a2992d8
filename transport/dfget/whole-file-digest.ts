/**
 * The whole-file digests of a download, computed as the verified prefix grows (pieces arrive
 * nearly in order) on the hash worker, so finishing a large file does not stall on hashing it all
 * at the end (transport/prefix-hash.ts).
 *
 * SHA-256 is what the download reports. When the supernode's CDN already gave the file's digest
 * and the user named no `--digest`, it is not computed again: every piece matched a digest from
 * that same CDN pass, so the file's digest is the CDN's. MD5 (`--md5`, Dragonfly's digest kind)
 * is only ever computed here: no CDN knows it.
 */
import type { PiecePlan } from '../../core/pieces.ts';
import { pieceBytes } from '../../core/pieces.ts';
import type { HashAlgorithm } from '../hash-worker.ts';
import { PrefixHash } from '../prefix-hash.ts';
import { piecePool } from './piece-pool.ts';
import type { TaskStore } from './task-store.ts';

export interface FileDigests {
  /** `sha256:<hex>` */
  sha256: string;
  /** Lowercase hex, when it was asked for. */
  md5?: string;
}

export class WholeFileDigest {
  private prefix: PrefixHash | null = null;
  private algorithms: HashAlgorithm[] = [];
  private cdnDigest: string | null = null;

  constructor(private readonly store: TaskStore, private readonly md5Wanted = false) {}

  /** A new plan (the first, or the source changed): start over. */
  reset(plan: PiecePlan, cdnDigest: string | null): void {
    this.prefix?.drop();
    this.cdnDigest = cdnDigest;
    this.algorithms = [...(cdnDigest === null ? ['sha256' as const] : []), ...(this.md5Wanted ? ['md5' as const] : [])];
    this.prefix = new PrefixHash({
      pieceCount: plan.pieceCount,
      sizeOf: (piece) => pieceBytes(plan, piece),
      isReady: (piece) => this.store.isVerified(piece),
      readBack: (piece, into) => this.store.readPieceInto(piece, into),
    }, this.algorithms, piecePool);
  }

  /**
   * `justWritten` is verified and on disk: hash as far as the prefix now reaches. Resolves once
   * its bytes are no longer needed.
   */
  advance(justWritten?: { piece: number; bytes: Buffer }): Promise<void> {
    if (!this.prefix) return Promise.resolve();
    return justWritten ? this.prefix.offer(justWritten.piece, justWritten.bytes) : this.prefix.advance();
  }

  /** The finished file's digests (hashing whatever the prefix did not cover). */
  async result(): Promise<FileDigests> {
    if (!this.prefix) throw new Error('the whole-file digest has no plan');
    const hex = await this.prefix.hex();
    const of = (algorithm: HashAlgorithm): string | undefined => hex[this.algorithms.indexOf(algorithm)];
    const md5 = of('md5');
    return { sha256: this.cdnDigest ?? `sha256:${of('sha256')}`, ...(md5 !== undefined ? { md5 } : {}) };
  }
}
