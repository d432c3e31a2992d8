/**
 * A download that goes back to the source (the core's `fetch-source`: no supernode reachable, or
 * `--pattern source`): the whole file by one plain GET into the data file (source-fetch.ts), or,
 * when the core names the `missing` ranges (it holds verified pieces), only those by ranged GETs
 * (source-ranges.ts), after which the stitched file must match the digest the download knows (its
 * supernode's, or `--digest`). A source that cannot serve the ranges, or a stitched file that does
 * not match (the source changed), costs one whole-file fetch instead. Each piece is reported as
 * its byte range fills, so in-process callers (dfdaemon) can stream it.
 */
import type { ByteRange } from '../../core/peer-io.ts';
import { pieceRange, type PiecePlan } from '../../core/pieces.ts';
import type { TokenBucket } from '../../core/token-bucket.ts';
import type { DownloadRequest } from './download-request.ts';
import type { LogFn } from './home.ts';
import { fetchRangesFromSource, RangesUnusable } from './source-ranges.ts';
import { fetchFromSource, type SourceFetchResult } from './source-fetch.ts';
import type { TaskStore } from './task-store.ts';

export interface SourceProgress {
  /** The length is known: the data file is about to be written from byte 0. */
  planned(plan: PiecePlan): void;
  /** `bytesDone` bytes of the file are written. */
  advanced(bytesDone: number): void;
}

/** What came from the source: the file's plan and digest, and how many bytes the source sent. */
export interface SourceDownload extends SourceFetchResult { sourceBytes: number }

/** Only `missing` of a file whose other pieces are verified on disk. */
export interface MissingPieces {
  plan: PiecePlan;
  missing: readonly ByteRange[];
  /** What the whole file must hash to (the supernode's digest, or --digest); null when unknown. */
  expectedDigest: string | null;
  /** Bytes already on disk, for progress. */
  heldBytes: number;
}

/**
 * Fetch the missing ranges, or the whole file when `part` is null or the ranges cannot be used;
 * throws `SourceError` (or the abort reason).
 */
export async function downloadFromSource(req: DownloadRequest, store: TaskStore, buckets: readonly TokenBucket[],
  signal: AbortSignal, progress: SourceProgress, part: MissingPieces | null, log: LogFn): Promise<SourceDownload> {
  if (part) {
    try {
      return await downloadMissing(req, store, buckets, signal, progress, part);
    } catch (err) {
      if (!(err instanceof RangesUnusable)) throw err;
      log('warn', `${err.message}; downloading the whole file from the source instead`);
    }
  }
  const whole = await downloadWhole(req, store, buckets, signal, progress);
  return { ...whole, sourceBytes: whole.plan.totalBytes };
}

async function downloadMissing(req: DownloadRequest, store: TaskStore, buckets: readonly TokenBucket[],
  signal: AbortSignal, progress: SourceProgress, part: MissingPieces): Promise<SourceDownload> {
  await store.closeWriter();
  let bytesDone = part.heldBytes;
  const sourceBytes = await fetchRangesFromSource({
    url: req.url, headers: req.headers, dataPath: store.dataPath, buckets, signal, plan: part.plan, ranges: part.missing,
    onPiece: (piece, startByte, endByte) => req.onPieceWritten?.(piece, startByte, endByte),
    onBytes: (bytes) => progress.advanced(bytesDone += bytes),
  });
  const fileDigest = await store.fileDigest();
  if (part.expectedDigest !== null && fileDigest !== part.expectedDigest) {
    throw new RangesUnusable(`the file with the source's ranges hashes to ${fileDigest}, not ${part.expectedDigest}: the source changed`);
  }
  await store.adoptSourceFile(part.plan);
  return { plan: part.plan, fileDigest, sourceBytes };
}

async function downloadWhole(req: DownloadRequest, store: TaskStore, buckets: readonly TokenBucket[],
  signal: AbortSignal, progress: SourceProgress): Promise<SourceFetchResult> {
  await store.closeWriter();
  let plan: PiecePlan | null = null;
  let written = 0;
  const result = await fetchFromSource({
    url: req.url, headers: req.headers, dataPath: store.dataPath, buckets, signal, md5: req.md5 !== undefined,
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
