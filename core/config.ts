/**
 * Scheduler and client settings shared by the simulator and the real processes.
 * Defaults follow the seed (dragonfly FAQ); every value is configurable by name from
 * scenario files, CLI flags (`--pieces-per-pull`, ...) and the supernode's `--config` YAML.
 * The peer-side part reaches every peer from its supernode (settings.ts).
 */
import { MAX_PIECE_BYTES, MIN_FIXED_PIECE_BYTES } from './pieces.ts';

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
  /**
   * Extra time the data-plane request of a piece fetch is given beyond `pieceTimeoutMs`, so the
   * core's own timeout (which blames the source) fires first and the transfer is then cancelled.
   */
  fetchGraceMs: number;
  /**
   * Rescue of slow fetches (0 = off, as in the seed): a piece fetch from a peer is slow once it has
   * run this many times what the download's verified fetches took for as many bytes (before any
   * finished: a piece per `slowFetchMinMs`), and never sooner than `slowFetchMinMs`. Slow fetches
   * are cancelled and asked for again when they hold the download up — in its tail (every missing
   * piece running) or when every download slot holds one — with the source kept off this
   * requester's list (a local blacklist entry, never an accusation: a congested path is not a
   * dishonest peer). A stalled connection or a holder that stopped answering then costs a few fetch
   * times, not `pieceTimeoutMs`. Fetches from the supernode are never rescued (core/peer.ts).
   */
  slowFetchFactor: number;
  /** The least time a fetch runs before it can count as slow, and the pace before any fetch finished (see slowFetchFactor). */
  slowFetchMinMs: number;
  /**
   * Longest a peer holds back a message that reports pieces as held while its uploader is still
   * booting (at most a quarter of `pullTimeoutMs`), so no one is sent to it for bytes it cannot
   * serve yet, and the pull still goes out in time.
   */
  uploaderWaitMs: number;
  /** A task an uploader was not asked for in this long leaves its upload list (seed: 3 minutes). */
  unlistAfterMs: number;
  /** Ranged GETs of one source the CDN runs at once; the missing pieces are cut into this many runs. */
  sourceFetchConcurrency: number;
  /** Tries per source request for retryable failures (cut connection, timeout, 5xx, short body). */
  sourceFetchAttempts: number;
  /** Delay before the second try of a source request; doubles per further try. */
  sourceRetryDelayMs: number;
  /** A seeding uploader reconnects to a supernode after this long, doubling per failure up to the max. */
  seederRetryMinMs: number;
  seederRetryMaxMs: number;
  /** A pull with no answer after this long means the supernode is gone (peer migrates). */
  pullTimeoutMs: number;
  /**
   * A cached task is revalidated with its source when registered this long after the last check
   * (registrations meanwhile share one check), and a private task's check of one requester's
   * credentials stands this long for later requesters with the same credentials. 0 = every time.
   */
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
  /**
   * How long a grant (admission to a task's pieces, protocol.ts) is valid; peers get a fresh one
   * with their next assignment once half of it has passed.
   */
  grantTtlMs: number;
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
  fetchGraceMs: 1000,
  slowFetchFactor: 0,
  slowFetchMinMs: 1000,
  uploaderWaitMs: 3000,
  unlistAfterMs: 180_000,
  sourceFetchConcurrency: 2,
  sourceFetchAttempts: 3,
  sourceRetryDelayMs: 250,
  seederRetryMinMs: 500,
  seederRetryMaxMs: 30_000,
  pullTimeoutMs: 15_000,
  revalidateAfterMs: 60_000,
  maxPeersPerTask: 200_000,
  maxTasks: 10_000,
  maxLocalBlacklist: 1024,
  assumedUploadBytesPerSec: 125_000_000,
  sourceScanLimit: 32,
  wakeBatch: 8,
  grantTtlMs: 3_600_000,
  backToSource: true,
});

/** One line per setting for `--help` (supernode, dfsim); the fields above say more. */
export const SETTING_HELP: Readonly<Record<keyof CoreConfig, string>> = Object.freeze({
  piecesPerPull: 'pieces a peer may have running after one pull',
  peerUpLimit: 'concurrent uploads of a peer at the assumed upload rate (scaled by its declared rate)',
  peerDownLimit: 'concurrent downloads of one peer',
  supernodeUpLimit: 'concurrent uploads the supernode serves as a special peer',
  supernodeCopiesPerPiece: 'uploads of one piece the supernode runs at once; 0 = no cap (the seed)',
  globalBlacklistThreshold: 'credible accusers that get a source checked and, if it fails, globally blacklisted',
  selfIsolationThreshold: 'a requester failing at more than this many checked-good sources downloads only from the supernode',
  pieceSizeBytes: 'fixed piece size in bytes; 0 = the seed\'s rule by file size',
  waitMinMs: 'first back-off hint in a wait answer, ms (doubles per empty pull)',
  waitMaxMs: 'longest back-off hint in a wait answer, ms',
  pieceTimeoutMs: 'a piece fetch with no result after this many ms fails as a timeout',
  fetchGraceMs: 'extra ms the data-plane request gets beyond pieceTimeoutMs',
  slowFetchFactor: 'give up on a peer fetch that runs this many times the download\'s pace when it holds the download up (tail, or every slot); 0 = off',
  slowFetchMinMs: 'least ms before a fetch counts as slow, and the pace before any fetch finished',
  uploaderWaitMs: 'longest a peer holds back a report of held pieces while its uploader boots, ms',
  unlistAfterMs: 'a task an uploader was not asked for in this many ms leaves its upload list',
  sourceFetchConcurrency: 'ranged GETs of one source the CDN runs at once',
  sourceFetchAttempts: 'tries per source request for retryable failures',
  sourceRetryDelayMs: 'delay before the second try of a source request, ms (doubles per try)',
  seederRetryMinMs: 'first delay before a seeding uploader reconnects to a supernode, ms',
  seederRetryMaxMs: 'longest delay before a seeding uploader reconnects, ms',
  pullTimeoutMs: 'a pull unanswered this many ms means the supernode is gone (the peer moves on)',
  revalidateAfterMs: 'a cached task is revalidated with its source when registered this many ms after the last check',
  maxPeersPerTask: 'most peers one task admits',
  maxTasks: 'most tasks one supernode or uploader keeps',
  maxLocalBlacklist: 'most entries of one requester\'s local blacklist',
  assumedUploadBytesPerSec: 'upload rate assumed for a peer that declares none, bytes/s',
  sourceScanLimit: 'holders inspected per piece when choosing a source',
  wakeBatch: 'waiting peers re-scheduled when capacity appears',
  grantTtlMs: 'how long a grant (admission to a task\'s pieces) is valid, ms',
  backToSource: 'download from the source when no supernode can be reached',
});

export type ConfigError = { kind: 'config-error'; field: string; message: string };

const DAY_MS = 86_400_000;

/**
 * Allowed range of every numeric setting. Peers check the settings their supernode sends against
 * the same table (decode.ts), so a supernode cannot be started with a value its peers refuse, and
 * impossible settings (zero slots, pieces too small to pay their round trip or too large for one
 * data-plane frame) are refused at once with the field named.
 */
export const SETTING_BOUNDS: Readonly<Record<Exclude<keyof CoreConfig, 'backToSource'>, { min: number; max: number }>> = Object.freeze({
  piecesPerPull: { min: 1, max: 256 },
  peerUpLimit: { min: 1, max: 256 },
  peerDownLimit: { min: 1, max: 256 },
  supernodeUpLimit: { min: 1, max: 65_536 },
  supernodeCopiesPerPiece: { min: 0, max: 65_536 },
  globalBlacklistThreshold: { min: 1, max: 1_000_000 },
  selfIsolationThreshold: { min: 0, max: 1_000_000 },
  pieceSizeBytes: { min: 0, max: MAX_PIECE_BYTES },
  waitMinMs: { min: 1, max: DAY_MS },
  waitMaxMs: { min: 1, max: DAY_MS },
  pieceTimeoutMs: { min: 1, max: DAY_MS },
  fetchGraceMs: { min: 0, max: DAY_MS },
  slowFetchFactor: { min: 0, max: 1000 },
  slowFetchMinMs: { min: 0, max: DAY_MS },
  uploaderWaitMs: { min: 0, max: DAY_MS },
  unlistAfterMs: { min: 0, max: 30 * DAY_MS },
  sourceFetchConcurrency: { min: 1, max: 64 },
  sourceFetchAttempts: { min: 1, max: 100 },
  sourceRetryDelayMs: { min: 0, max: DAY_MS },
  seederRetryMinMs: { min: 1, max: DAY_MS },
  seederRetryMaxMs: { min: 1, max: DAY_MS },
  pullTimeoutMs: { min: 1, max: DAY_MS },
  revalidateAfterMs: { min: 0, max: 365 * DAY_MS },
  maxPeersPerTask: { min: 1, max: 1 << 20 },
  maxTasks: { min: 1, max: 1_000_000 },
  maxLocalBlacklist: { min: 0, max: 65_536 },
  assumedUploadBytesPerSec: { min: 1, max: 2 ** 50 },
  sourceScanLimit: { min: 1, max: 1_000_000 },
  wakeBatch: { min: 1, max: 1_000_000 },
  grantTtlMs: { min: 1000, max: 30 * DAY_MS },
});

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
    const { min, max } = SETTING_BOUNDS[key as keyof typeof SETTING_BOUNDS];
    if (value < min) return { kind: 'config-error', field: key, message: min === 1 ? 'must be at least 1' : `must be at least ${min}, got ${value}` };
    if (value > max) return { kind: 'config-error', field: key, message: `must be at most ${max}, got ${value}` };
  }
  if (cfg.pieceSizeBytes !== 0 && cfg.pieceSizeBytes < MIN_FIXED_PIECE_BYTES) {
    return { kind: 'config-error', field: 'pieceSizeBytes', message: `must be 0 (the seed's rule) or at least ${MIN_FIXED_PIECE_BYTES} bytes (64 KiB), got ${cfg.pieceSizeBytes}` };
  }
  if (cfg.waitMaxMs < cfg.waitMinMs) return { kind: 'config-error', field: 'waitMaxMs', message: 'must be >= waitMinMs' };
  if (cfg.seederRetryMaxMs < cfg.seederRetryMinMs) return { kind: 'config-error', field: 'seederRetryMaxMs', message: 'must be >= seederRetryMinMs' };
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
export function uploadSlotsFor(cfg: Pick<CoreConfig, 'peerUpLimit' | 'assumedUploadBytesPerSec'>, uploadRateBytesPerSec: number): number {
  if (!(uploadRateBytesPerSec > 0)) return cfg.peerUpLimit;
  const scaled = Math.round(cfg.peerUpLimit * uploadRateBytesPerSec / cfg.assumedUploadBytesPerSec);
  return Math.min(Math.max(scaled, 1), Math.max(cfg.peerUpLimit, MAX_UPLOAD_SLOTS));
}

/**
 * A supernode upload should get at least this fraction of what one upload slot of the swarm's
 * fastest peer gets (see supernodeSlotsFor).
 */
const SUPERNODE_UPLOAD_SHARE = 0.75;

/**
 * Concurrent uploads the supernode runs: `supernodeUpLimit` when its upload rate is unknown (0),
 * else as many as keep each of its uploads at about three quarters of an upload from the swarm's
 * fastest peer (its declared rate over its `uploadSlotsFor` slots), at least one and at most
 * `supernodeUpLimit`. The supernode is the root of every piece's spread: a new piece it splits
 * thirty ways reaches its first peers late, and their download slots sit on slow flows while
 * faster peers could fill them. A 10 Gbit/s supernode over 1 Gbit/s peers keeps 32 uploads; a
 * 100 Mbit/s one over 50 Mbit/s peers runs 3 (README, "How well the simulator predicts").
 */
export function supernodeSlotsFor(cfg: Pick<CoreConfig, 'supernodeUpLimit' | 'peerUpLimit' | 'assumedUploadBytesPerSec'>,
  supernodeUploadBytesPerSec: number, fastestPeerUploadBytesPerSec: number): number {
  if (!(supernodeUploadBytesPerSec > 0)) return cfg.supernodeUpLimit;
  const peer = fastestPeerUploadBytesPerSec > 0 ? fastestPeerUploadBytesPerSec : cfg.assumedUploadBytesPerSec;
  const peerSlotRate = peer / uploadSlotsFor(cfg, peer);
  return Math.min(Math.max(Math.round(supernodeUploadBytesPerSec / (SUPERNODE_UPLOAD_SHARE * peerSlotRate)), 1), cfg.supernodeUpLimit);
}

/** Like makeConfig, for callers that treat a bad setting as a programming error. */
export function configOrThrow(overrides: Partial<CoreConfig> = {}): CoreConfig {
  const cfg = makeConfig(overrides);
  if ('kind' in cfg) throw new Error(`invalid setting ${cfg.field}: ${cfg.message}`);
  return cfg;
}
