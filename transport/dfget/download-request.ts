/**
 * What a download is asked to do and what it reports: the types of the in-process download API
 * (`download()` in download.ts), shared by dfget's command line, dfdaemon and the session that
 * runs a download (download-session.ts).
 */
import type { PeerSettings, SettingsOrigin } from '../../core/settings.ts';

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
  /** This host's data centre and location (`--idc`, `--location`), as told to the managing node. */
  idc?: string;
  location?: string;
  /** Whole download deadline; 0 = none. */
  timeoutMs: number;
  /** The layout is known and `dataPath` exists (called again if the source changed). */
  onPlan?(plan: DownloadPlan): void;
  /** Bytes [startByte, endByte) of `dataPath` are written and verified. */
  onPieceWritten?(piece: number, startByte: number, endByte: number): void;
  onProgress?(progress: DownloadProgress): void;
  signal?: AbortSignal;
}

/**
 * The fleet's settings a download ran with, and where they came from: its supernode's
 * `task-info`, or the defaults (no supernode reached, or one too old to send them).
 */
export type EffectiveSettings = { origin: SettingsOrigin } & PeerSettings;

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
  settings: EffectiveSettings;
}

/** What this node's uploads are capped at, bytes/s (0 = unlimited): the tighter of --totallimit and --upload-limit. */
export function uploadRateOf(req: Pick<DownloadRequest, 'totalLimitBytesPerSec' | 'uploadLimitBytesPerSec'>): number {
  const total = req.totalLimitBytesPerSec;
  const upload = req.uploadLimitBytesPerSec ?? 0;
  if (total <= 0) return Math.max(0, upload);
  return upload > 0 ? Math.min(total, upload) : total;
}
