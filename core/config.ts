/**
 * Scheduler and client settings shared by the simulator and the real processes.
 * Defaults follow the seed (dragonfly FAQ); every value is configurable by name from
 * scenario files, CLI flags (`--pieces-per-pull`, ...) and the supernode's `--config` YAML.
 */
export interface CoreConfig {
  /** Pieces a peer may have running after one pull (seed: "4 in default"). */
  piecesPerPull: number;
  /** Concurrent uploads one peer serves; a fuller peer is not chosen as a source. */
  peerUpLimit: number;
  /** Concurrent downloads one peer runs. */
  peerDownLimit: number;
  /** Concurrent piece uploads the supernode serves as a special peer. */
  supernodeUpLimit: number;
  /**
   * Uploads of one piece the supernode runs at once (0 = no cap, as in the seed). When the CDN is the
   * bottleneck every peer wants the newest piece; without a cap the supernode sends it to all
   * of them and nothing moves between peers. With a cap a few peers get it from the supernode
   * and the rest from them.
   */
  supernodeCopiesPerPiece: number;
  /** Consecutive failures (from anyone) that put a source on the global blacklist. */
  globalBlacklistThreshold: number;
  /** A requester whose consecutive failures exceed this downloads only from the supernode. */
  selfIsolationThreshold: number;
  /** Fixed piece size in bytes; 0 = the seed's rule (see pieces.ts). */
  pieceSizeBytes: number;
  /** Back-off hint in a `wait` answer: starts here, doubles per consecutive empty pull. */
  waitMinMs: number;
  waitMaxMs: number;
  /** A running piece fetch with no result after this long counts as a timeout failure. */
  pieceTimeoutMs: number;
  /** A pull with no answer after this long means the supernode is gone (peer migrates). */
  pullTimeoutMs: number;
  /** A cached task is revalidated with its source when registered this long after the last check. */
  revalidateAfterMs: number;
  /** Upper bounds that keep every table finite. */
  maxPeersPerTask: number;
  maxTasks: number;
  maxLocalBlacklist: number;
  /** Upload rate assumed for a peer that did not declare one, bytes/s (1 Gbit/s). */
  assumedUploadBytesPerSec: number;
  /** Holders inspected per piece when choosing a source (rotating window; see scheduler.ts). */
  sourceScanLimit: number;
  /** Waiting peers re-scheduled when capacity appears (a piece lands, an upload slot frees). */
  wakeBatch: number;
  /** Go to the source directly when no supernode can be reached. */
  backToSource: boolean;
}

export const DEFAULT_CONFIG: Readonly<CoreConfig> = Object.freeze({
  piecesPerPull: 4,
  peerUpLimit: 5,
  peerDownLimit: 4,
  supernodeUpLimit: 32,
  supernodeCopiesPerPiece: 2,
  globalBlacklistThreshold: 5,
  selfIsolationThreshold: 5,
  pieceSizeBytes: 0,
  waitMinMs: 50,
  waitMaxMs: 2000,
  pieceTimeoutMs: 60_000,
  pullTimeoutMs: 15_000,
  revalidateAfterMs: 0,
  maxPeersPerTask: 200_000,
  maxTasks: 10_000,
  maxLocalBlacklist: 1024,
  assumedUploadBytesPerSec: 125_000_000,
  sourceScanLimit: 32,
  wakeBatch: 8,
  backToSource: true,
});

export type ConfigError = { kind: 'config-error'; field: string; message: string };

/** Merge overrides over the defaults and check every field; errors name the field. */
export function makeConfig(overrides: Partial<CoreConfig> = {}): CoreConfig | ConfigError {
  const cfg: CoreConfig = { ...DEFAULT_CONFIG, ...overrides };
  for (const key of Object.keys(overrides)) {
    if (!Object.hasOwn(DEFAULT_CONFIG, key)) return { kind: 'config-error', field: key, message: `unknown setting "${key}"` };
  }
  for (const [key, value] of Object.entries(cfg)) {
    if (key === 'backToSource') {
      if (typeof value !== 'boolean') return { kind: 'config-error', field: key, message: 'must be true or false' };
      continue;
    }
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || !Number.isInteger(value)) {
      return { kind: 'config-error', field: key, message: `must be a whole number >= 0, got ${String(value)}` };
    }
  }
  const positive: (keyof CoreConfig)[] = ['piecesPerPull', 'peerUpLimit', 'peerDownLimit', 'supernodeUpLimit',
    'globalBlacklistThreshold', 'waitMinMs', 'pieceTimeoutMs', 'pullTimeoutMs', 'maxPeersPerTask', 'maxTasks',
    'sourceScanLimit', 'wakeBatch', 'assumedUploadBytesPerSec'];
  for (const key of positive) {
    if ((cfg[key] as number) < 1) return { kind: 'config-error', field: key, message: 'must be at least 1' };
  }
  if (cfg.waitMaxMs < cfg.waitMinMs) return { kind: 'config-error', field: 'waitMaxMs', message: 'must be >= waitMinMs' };
  return cfg;
}

/** Most upload slots one peer gets, however fast it declares itself. */
const MAX_UPLOAD_SLOTS = 64;

/**
 * Concurrent uploads a peer serves: `peerUpLimit` for a peer of the assumed rate (or unknown
 * rate), scaled by its declared upload rate — a 10 Gbit/s uploader serves ten times the slots of
 * a 1 Gbit/s one, a 100 Mbit/s uploader one slot — so every upload gets a useful share of the
 * link. The scheduler and every uploader (sim and transport) use this one rule.
 */
export function uploadSlotsFor(cfg: CoreConfig, uploadRateBytesPerSec: number): number {
  if (!(uploadRateBytesPerSec > 0)) return cfg.peerUpLimit;
  const scaled = Math.round(cfg.peerUpLimit * uploadRateBytesPerSec / cfg.assumedUploadBytesPerSec);
  return Math.min(Math.max(scaled, 1), Math.max(cfg.peerUpLimit, MAX_UPLOAD_SLOTS));
}

/** Like makeConfig, for callers that treat a bad setting as a programming error. */
export function configOrThrow(overrides: Partial<CoreConfig> = {}): CoreConfig {
  const cfg = makeConfig(overrides);
  if ('kind' in cfg) throw new Error(`invalid setting ${cfg.field}: ${cfg.message}`);
  return cfg;
}
