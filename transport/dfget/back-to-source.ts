/**
 * A download that goes back to the source (the core's `fetch-source`: no supernode reachable, or
 * `--pattern source`): the whole file by one plain GET into the data file (source-fetch.ts),
 * reporting each piece as its byte range fills, so in-process callers (dfdaemon) can stream it.
 */
import { pieceRange, type PiecePlan } from '../../core/pieces.ts';
import type { TokenBucket } from '../../core/token-bucket.ts';
import type { DownloadRequest } from './download-request.ts';
import { fetchFromSource, type SourceFetchResult } from './source-fetch.ts';
import type { TaskStore } from './task-store.ts';

export interface SourceProgress {
  /** The length is known: the data file is about to be written from byte 0. */
  planned(plan: PiecePlan): void;
  /** Bytes [0, bytesDone) are written. */
  advanced(bytesDone: number): void;
}

/** Fetch the whole file into the store's data file; throws `SourceError` (or the abort reason). */
export async function downloadFromSource(req: DownloadRequest, store: TaskStore, buckets: readonly TokenBucket[],
  signal: AbortSignal, progress: SourceProgress): Promise<SourceFetchResult> {
  await store.closeWriter();
  let plan: PiecePlan | null = null;
  let written = 0;
  const result = await fetchFromSource({
    url: req.url, headers: req.headers, dataPath: store.dataPath, buckets, signal,
    onPlan: (p) => {
      plan = p;
      written = 0;
      req.onPlan?.({ ...p, dataPath: store.dataPath });
      progress.planned(p);
    },
    onBytes: (endByte) => {
      if (plan) announceFilledPieces(req, plan, written, endByte);
      written = endByte;
      progress.advanced(endByte);
    },
  });
  await store.adoptSourceFile(result.plan);
  return result;
}

/** Tell the caller about each piece that the bytes [before, after) completed. */
function announceFilledPieces(req: DownloadRequest, plan: PiecePlan, before: number, after: number): void {
  for (let piece = Math.floor(before / plan.pieceSizeBytes); piece < plan.pieceCount; piece++) {
    const { startByte, endByte } = pieceRange(plan, piece);
    if (endByte > after) break;
    if (endByte > before) req.onPieceWritten?.(piece, startByte, endByte);
  }
}
