/**
 * One blob travelling through P2P (dfget's in-process `download`), shared by every client that
 * asks for it meanwhile. Pieces land verified but in any order; `ContiguousPrefix` turns them into
 * the number of leading bytes that are safe to send, and `follow()` yields those bytes in order
 * as the prefix grows, so a client starts receiving a layer while later pieces are still on the
 * way.
 *
 * Followers read through a file descriptor opened when the plan arrives: when the download
 * finishes and its file is moved into the local repo, an open descriptor keeps reading the same
 * bytes. If the download re-plans (the source changed under it), bytes already sent may belong
 * to the old content, so a follower that sent any stops with an error instead of mixing them.
 */
import { promises as fs } from 'node:fs';
import type { DownloadPlan, DownloadRequest, DownloadResult } from '../dfget/download.ts';

const READ_CHUNK_BYTES = 1024 * 1024;

export type DownloadFn = (req: DownloadRequest) => Promise<DownloadResult>;

/** Leading bytes covered by the verified ranges seen so far. */
export class ContiguousPrefix {
  private readonly pendingEnds = new Map<number, number>();
  bytes = 0;

  /** Record [startByte, endByte) as verified; returns whether the prefix grew. */
  add(startByte: number, endByte: number): boolean {
    if (endByte <= this.bytes) return false;
    if (startByte > this.bytes) {
      this.pendingEnds.set(startByte, Math.max(endByte, this.pendingEnds.get(startByte) ?? 0));
      return false;
    }
    this.bytes = endByte;
    for (let next = this.pendingEnds.get(this.bytes); next !== undefined; next = this.pendingEnds.get(this.bytes)) {
      this.pendingEnds.delete(this.bytes);
      this.bytes = Math.max(this.bytes, next);
    }
    for (const start of this.pendingEnds.keys()) if (start < this.bytes) this.pendingEnds.delete(start);
    return true;
  }

  reset(): void {
    this.pendingEnds.clear();
    this.bytes = 0;
  }
}

type FetchState =
  | { kind: 'waiting' }
  | { kind: 'planned'; plan: DownloadPlan; generation: number }
  | { kind: 'done'; plan: DownloadPlan; generation: number; result: DownloadResult }
  | { kind: 'failed'; error: Error };

export class P2PBlobFetch {
  private state: FetchState = { kind: 'waiting' };
  private readonly prefix = new ContiguousPrefix();
  private generation = 0;
  private wakers: (() => void)[] = [];
  /** Where the finished blob went in the local repo, once it is there. */
  storedPath: string | null = null;
  readonly finished: Promise<DownloadResult>;

  /** `request` lacks only the callbacks this class installs. */
  constructor(download: DownloadFn, request: Omit<DownloadRequest, 'onPlan' | 'onPieceWritten'>) {
    this.finished = download({
      ...request,
      onPlan: (plan) => {
        this.generation += 1;
        this.prefix.reset();
        this.state = { kind: 'planned', plan, generation: this.generation };
        this.wake();
      },
      onPieceWritten: (_piece, startByte, endByte) => {
        if (this.prefix.add(startByte, endByte)) this.wake();
      },
    });
    this.finished.then(
      (result) => {
        if (this.state.kind === 'planned') {
          this.prefix.add(0, result.totalBytes);
          this.state = { kind: 'done', plan: this.state.plan, generation: this.state.generation, result };
        } else {
          this.state = { kind: 'failed', error: new Error(`P2P download of ${request.url} finished without a plan`) };
        }
        this.wake();
      },
      (err: Error) => {
        this.state = { kind: 'failed', error: err };
        this.wake();
      },
    );
  }

  /**
   * Yield the blob's bytes from `fromByte` on, in order, as they become verified. The first
   * value is the total size; the rest are chunks. Throws when the download fails or re-plans
   * after this follower sent bytes.
   */
  async *follow(fromByte: number): AsyncGenerator<number | Buffer> {
    const planned = await this.untilPlanned();
    let generation = planned.generation;
    let handle = await this.openData(planned.plan.dataPath);
    let position = fromByte;
    try {
      yield planned.plan.totalBytes;
      while (position < planned.plan.totalBytes) {
        const state = this.state;
        if (state.kind === 'waiting') throw new Error('P2P download lost its plan');
        // Verified bytes stay good after a failure: send them, the fallback resumes after them.
        if (state.kind === 'failed') {
          if (this.generation !== generation || this.prefix.bytes <= position) throw state.error;
        } else if (state.generation !== generation) {
          if (position > 0) throw new Error('the blob changed at the source while it was being sent');
          await handle.close();
          generation = state.generation;
          handle = await this.openData(state.plan.dataPath);
          continue;
        }
        if (this.prefix.bytes <= position) {
          await new Promise<void>((resolve) => this.wakers.push(resolve));
          continue;
        }
        const lengthBytes = Math.min(READ_CHUNK_BYTES, this.prefix.bytes - position);
        const chunk = Buffer.allocUnsafe(lengthBytes);
        const { bytesRead } = await handle.read(chunk, 0, lengthBytes, position);
        if (bytesRead !== lengthBytes) throw new Error(`P2P data file ended at byte ${position + bytesRead}, expected ${position + lengthBytes}`);
        position += bytesRead;
        yield chunk;
      }
    } finally {
      await handle.close();
    }
  }

  /**
   * A download that already finished has moved its data file to the output path, and the output
   * may since have been moved into the local repo (`storedPath`): try them in that order.
   */
  private async openData(dataPath: string): Promise<fs.FileHandle> {
    const candidates = [dataPath];
    if (this.state.kind === 'done') candidates.push(this.state.result.outputPath);
    if (this.storedPath !== null) candidates.push(this.storedPath);
    let lastError: unknown;
    for (const path of candidates) {
      try {
        return await fs.open(path, 'r');
      } catch (err) {
        lastError = err;
      }
    }
    throw lastError;
  }

  private async untilPlanned(): Promise<{ plan: DownloadPlan; generation: number }> {
    for (;;) {
      const state = this.state;
      if (state.kind === 'failed') throw state.error;
      if (state.kind === 'planned' || state.kind === 'done') return state;
      await new Promise<void>((resolve) => this.wakers.push(resolve));
    }
  }

  private wake(): void {
    const wakers = this.wakers;
    this.wakers = [];
    for (const wake of wakers) wake();
  }
}
