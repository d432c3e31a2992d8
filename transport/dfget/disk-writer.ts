/**
 * The disk side of a download: every change to the data file runs on one queue, in the order the
 * core asked for it, so `done` (which the core emits right after the last `write-piece`) is acted
 * on only once every write has landed (`idle()`). A write error of a piece goes back to the core
 * (`write-failed`); any other disk error ends the download.
 */
import type { PiecePlan } from '../../core/pieces.ts';
import type { Received } from './piece-fetcher.ts';
import type { TaskStore } from './task-store.ts';
import type { WholeFileDigest } from './whole-file-digest.ts';

export interface DiskEvents {
  /** The data file is sized for `plan`; `kept` pieces of an earlier run are still good. */
  planApplied(plan: PiecePlan, kept: number[]): void;
  /** Verified bytes [startByte, endByte) of `piece` are on disk. */
  pieceStored(piece: number, startByte: number, endByte: number): void;
  writeFailed(piece: number, reason: string): void;
  /** The disk cannot be used; the download cannot go on. */
  failed(err: Error): void;
}

export class DiskWriter {
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly store: TaskStore, private readonly digest: WholeFileDigest, private readonly events: DiskEvents) {}

  /** Size the data file for `plan`, after `makeRoom` (the data dir's limit) resolved. */
  applyPlan(plan: PiecePlan, discardLocal: boolean, kept: number[], cdnDigest: string | null, makeRoom?: () => Promise<void>): void {
    this.enqueue(async () => {
      await makeRoom?.();
      await this.store.applyPlan(plan, discardLocal);
      this.digest.reset(plan, cdnDigest);
      this.events.planApplied(plan, kept);
    });
  }

  writePiece(piece: number, startByte: number, endByte: number, held: Received): void {
    this.enqueue(async () => {
      try {
        await this.store.writePiece(piece, startByte, held.bytes, held.digest);
      } catch (err) {
        this.events.writeFailed(piece, (err as Error).message);
        return;
      }
      await this.digest.advance({ piece, bytes: held.bytes });
      this.events.pieceStored(piece, startByte, endByte);
    });
  }

  /** Resolves once every queued change has landed (or failed). */
  idle(): Promise<void> {
    return this.queue;
  }

  private enqueue(work: () => Promise<void>): void {
    this.queue = this.queue.then(work).catch((err: Error) => {
      this.events.failed(new Error(`cannot write to ${this.store.dataPath}: ${err.message}`));
    });
  }
}
