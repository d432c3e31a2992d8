/**
 * The disk side of a download. A new plan (sizing the data file) is a barrier: it runs alone, in
 * the order the core asked for it. Pieces are written in place in the data file with positioned
 * writes, several at once (each on libuv's thread pool, so the page-cache copies of consecutive
 * pieces overlap). A piece counts as stored (`pieceStored`: the uploader may serve it) as soon as
 * its bytes are in the data file; its buffer goes back to the pool once the whole-file digest has
 * read it too. A message claiming pieces waits for those pieces only (`stored()`), not for every
 * write behind them. `done` (which the core emits right after the last `write-piece`) is acted on
 * only once every write and digest step has landed (`idle()`). A write error of a piece goes back
 * to the core (`write-failed`); any other disk error ends the download.
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
  writeFailed(piece: number, err: Error): void;
  /** The disk cannot be used; the download cannot go on. */
  failed(err: Error): void;
}

export class DiskWriter {
  /** Plans, in order; every write starts after the plan before it. */
  private planned: Promise<void> = Promise.resolve();
  private readonly writing = new Set<Promise<void>>();
  /** Pieces whose bytes are not in the data file yet, by piece: settles once written (or failed). */
  private readonly landing = new Map<number, Promise<void>>();

  constructor(private readonly store: TaskStore, private readonly digest: WholeFileDigest, private readonly events: DiskEvents) {}

  /** Size the data file for `plan`, after `makeRoom` (the data dir's limit) resolved. */
  applyPlan(plan: PiecePlan, discardLocal: boolean, kept: number[], cdnDigest: string | null, makeRoom?: () => Promise<void>): void {
    const before = [...this.writing];
    this.planned = this.guard(this.planned.then(() => Promise.all(before)).then(async () => {
      await makeRoom?.();
      await this.store.applyPlan(plan, discardLocal);
      this.digest.reset(plan, cdnDigest);
      this.events.planApplied(plan, kept);
    }));
  }

  /** The CDN's file digest for the plan in force, learned after it (after any plan queued before). */
  learnDigest(fileDigest: string): void {
    this.planned = this.guard(this.planned.then(() => this.digest.learn(fileDigest)));
  }

  writePiece(piece: number, startByte: number, endByte: number, held: Received): void {
    let landed!: () => void;
    const landing = new Promise<void>((resolve) => { landed = resolve; });
    this.landing.set(piece, landing);
    const write = this.guard(this.planned.then(async () => {
      try {
        await this.store.writePiece(piece, startByte, held.bytes, held.digest);
      } catch (err) {
        held.release();
        this.events.writeFailed(piece, err as Error);
        return;
      }
      this.events.pieceStored(piece, startByte, endByte);
      landed();
      try {
        await this.digest.advance({ piece, bytes: held.bytes });
      } finally {
        held.release();
      }
    }).finally(() => {
      landed();
      if (this.landing.get(piece) === landing) this.landing.delete(piece);
    }));
    this.writing.add(write);
    void write.then(() => this.writing.delete(write));
  }

  /**
   * Resolves once each of `pieces` queued here is in the data file and its uploader was told
   * (or its write failed), after any plan before them; other writes are not waited for.
   */
  async stored(pieces: Iterable<number>): Promise<void> {
    const waits: Promise<void>[] = [this.planned];
    for (const piece of pieces) {
      const landing = this.landing.get(piece);
      if (landing) waits.push(landing);
    }
    await Promise.all(waits);
  }

  /** Resolves once every queued change has landed (or failed). */
  async idle(): Promise<void> {
    while (this.writing.size > 0) await Promise.all([...this.writing]);
    await this.planned;
  }

  private guard(work: Promise<void>): Promise<void> {
    return work.catch((err: Error) => {
      this.events.failed(err);
    });
  }
}
