/**
 * The in-process download API: what `dfget` runs and what `dfdaemon` calls for every blob.
 * `download()` (download.ts) fetches one URL through the P2P network into `<homeDir>/data/`,
 * verifies every piece, keeps a `.server` backup for uploading and moves the result to
 * `outputPath`. It resolves with a summary or rejects with a `DownloadError`.
 *
 * A caller that lives long (dfdaemon) may host this home's uploader itself with `startUploader`;
 * otherwise the first download starts a background uploader that outlives it and exits when idle.
 */
import { runDownload } from './download-session.ts';

export { DownloadError, EXIT_CODES, type DownloadErrorCode } from './download-error.ts';
export { startUploader, type UploaderHandle, type UploaderOptions } from '../uploader/uploader-server.ts';

export type DownloadPattern = 'p2p' | 'cdn' | 'source';

export interface DownloadPlan {
  totalBytes: number;
  pieceSizeBytes: number;
  pieceCount: number;
  /** File under `<homeDir>/data/` that receives verified pieces while the download runs. */
  dataPath: string;
}

export interface DownloadProgress {
  bytesDone: number;
  totalBytes: number;
  fromPeersBytes: number;
  fromSupernodeBytes: number;
}

export interface DownloadRequest {
  url: string;
  /** Headers for the source (e.g. Authorization); the supernode fetches with them. */
  headers: Record<string, string>;
  outputPath: string;
  homeDir: string;
  /** `host:port` of each supernode, in the order to try (failover walks the list). */
  supernodes: string[];
  /** Per-task receive limit in bytes/s (seed default 10 MiB/s); 0 = unlimited. */
  localLimitBytesPerSec: number;
  /** Per-node limit in bytes/s for receive here and for this home's uploader; 0 = unlimited. */
  totalLimitBytesPerSec: number;
  /**
   * Limit of this node's uploads alone (TX), bytes/s; 0 or absent = only `totalLimitBytesPerSec`.
   * For hosts whose uplink is slower than their downlink: the tighter of the two caps the uploader
   * and is declared to the scheduler as this node's upload rate, while downloads keep their own limits.
   */
  uploadLimitBytesPerSec?: number;
  /** Expected whole-file digest, `sha256:<hex>`; a mismatch fails the download. */
  digest?: string;
  identifier?: string;
  pattern: DownloadPattern;
  /** Fetch straight from the source when no supernode can be reached. */
  backToSource: boolean;
  /** Whole download deadline; 0 = none. */
  timeoutMs: number;
  /** The layout is known and `dataPath` exists (called again if the source changed). */
  onPlan?(plan: DownloadPlan): void;
  /** Bytes [startByte, endByte) of `dataPath` are written and verified. */
  onPieceWritten?(piece: number, startByte: number, endByte: number): void;
  onProgress?(progress: DownloadProgress): void;
  signal?: AbortSignal;
}

export interface DownloadResult {
  taskId: string;
  outputPath: string;
  totalBytes: number;
  /** `sha256:<hex>` of the whole file as written. */
  fileDigest: string;
  fromPeersBytes: number;
  fromSupernodeBytes: number;
  fromSourceBytes: number;
  /** Pieces found verified on disk from an earlier, interrupted run. */
  resumedPieces: number;
  /** Pieces fetched over the network by this run. */
  fetchedPieces: number;
  elapsedMs: number;
}

/**
 * Download `req.url` to `req.outputPath` through the supernodes in `req.supernodes`.
 * Rejects with a `DownloadError` whose `code` and `exitCode` say what went wrong.
 */
export function download(req: DownloadRequest): Promise<DownloadResult> {
  return runDownload(req);
}
