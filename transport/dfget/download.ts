/**
 * The in-process download API: what `dfget` runs and what `dfdaemon` calls for every blob.
 * `download()` (download.ts) fetches one URL through the P2P network into `<homeDir>/data/`,
 * verifies every piece, keeps a `.server` backup for uploading and moves the result to
 * `outputPath`. It resolves with a summary or rejects with a `DownloadError`.
 */

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

/** Process exit codes of `dfget`, one per DownloadError code (listed in `dfget --help`). */
export const EXIT_CODES = {
  ok: 0,
  internal: 1,
  usage: 2,
  'supernode-unreachable': 3,
  'source-error': 4,
  'digest-mismatch': 5,
  timeout: 6,
  io: 7,
  failed: 8,
  aborted: 130,
} as const;

export type DownloadErrorCode = Exclude<keyof typeof EXIT_CODES, 'ok'>;

export class DownloadError extends Error {
  readonly exitCode: number;
  constructor(readonly code: DownloadErrorCode, message: string, readonly status?: number) {
    super(message);
    this.name = 'DownloadError';
    this.exitCode = EXIT_CODES[code];
  }
}
