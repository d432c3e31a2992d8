/**
 * The whole-file SHA-256 of a download, computed as the verified prefix grows (pieces arrive
 * nearly in order), so finishing a large file does not stall on hashing it all at the end. Pieces
 * written ahead of the prefix are read back from disk once the prefix reaches them.
 *
 * When the supernode's CDN already gave the file's digest and the user named no `--digest`, it is
 * not computed again: every piece matched a digest from that same CDN pass, so the file's digest
 * is the CDN's.
 */
import { createHash, type Hash } from 'node:crypto';
import type { PiecePlan } from '../../core/pieces.ts';
import type { TaskStore } from './task-store.ts';

export class WholeFileDigest {
  private hash: Hash = createHash('sha256');
  private hashedPieces = 0;
  private plan: PiecePlan | null = null;
  private cdnDigest: string | null = null;

  constructor(private readonly store: TaskStore) {}

  /** A new plan (the first, or the source changed): start over. */
  reset(plan: PiecePlan, cdnDigest: string | null): void {
    this.plan = plan;
    this.cdnDigest = cdnDigest;
    this.hash = createHash('sha256');
    this.hashedPieces = 0;
  }

  /** Hash every verified piece the prefix now reaches; `justWritten` saves reading it back. */
  async advance(justWritten?: { piece: number; bytes: Buffer }): Promise<void> {
    if (this.cdnDigest !== null) return;
    while (this.plan && this.hashedPieces < this.plan.pieceCount && this.store.isVerified(this.hashedPieces)) {
      const piece = this.hashedPieces;
      this.hash.update(justWritten?.piece === piece ? justWritten.bytes : await this.store.readPiece(piece));
      this.hashedPieces++;
    }
  }

  /** `sha256:<hex>` of the finished file (hashing whatever the prefix did not cover). */
  async result(): Promise<string> {
    if (this.cdnDigest !== null) return this.cdnDigest;
    await this.advance();
    if (this.plan && this.hashedPieces === this.plan.pieceCount) return `sha256:${this.hash.digest('hex')}`;
    return this.store.fileDigest();
  }
}
