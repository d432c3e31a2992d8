/**
 * Fleet settings: the part of the supernode's `CoreConfig` that peers and their uploaders run
 * with. The supernode is the one place a fleet is tuned; it sends these in every `task-info`,
 * and the peer (dfget, dfdaemon, a simulated host) adopts them before it fetches anything, then
 * hands the upload side to its uploader (`uploaderConfigFor`). The simulator delivers them the
 * same way, so a threshold tuned in a sweep is one flag on one supernode in production.
 *
 * Only per-host limits stay local: `--locallimit`, `--totallimit` (which sets the declared upload
 * rate, hence upload slots) and whether to go back to the source. A peer whose supernode sends no
 * settings (an older supernode) runs with `DEFAULT_PEER_SETTINGS` and says so in its log.
 */
import { DEFAULT_CONFIG, uploadSlotsFor, type CoreConfig } from './config.ts';
import type { UploaderConfig } from './uploader.ts';

/** Settings a supernode hands to its peers, by name (all whole numbers). */
export const PEER_SETTING_KEYS = [
  'piecesPerPull', 'peerDownLimit', 'peerUpLimit', 'pieceTimeoutMs', 'fetchGraceMs', 'slowFetchFactor', 'slowFetchMinMs', 'pullTimeoutMs',
  'uploaderWaitMs', 'waitMinMs', 'waitMaxMs', 'globalBlacklistThreshold', 'selfIsolationThreshold',
  'maxLocalBlacklist', 'assumedUploadBytesPerSec', 'unlistAfterMs', 'seederRetryMinMs', 'seederRetryMaxMs',
] as const satisfies readonly (keyof CoreConfig)[];

export type PeerSettingKey = (typeof PEER_SETTING_KEYS)[number];

/**
 * Settings added after supernodes were deployed: one that does not send them (older) leaves its
 * peers running them at the defaults instead of refusing its `task-info` (decode.ts).
 */
export const LATER_PEER_SETTING_KEYS: ReadonlySet<PeerSettingKey> = new Set<PeerSettingKey>(['slowFetchFactor', 'slowFetchMinMs']);
export type PeerSettings = Pick<CoreConfig, PeerSettingKey>;

/** Where a peer's settings came from: its supernode, or the defaults (the supernode sent none). */
export type SettingsOrigin = 'supernode' | 'default';

/** The settings a supernode running `cfg` sends to its peers. */
export function peerSettingsOf(cfg: CoreConfig): PeerSettings {
  const out = {} as Record<PeerSettingKey, number>;
  for (const key of PEER_SETTING_KEYS) out[key] = cfg[key];
  return out as PeerSettings;
}

/** What a peer runs with when its supernode sends no settings (logged as a fallback). */
export const DEFAULT_PEER_SETTINGS: Readonly<PeerSettings> = Object.freeze(peerSettingsOf(DEFAULT_CONFIG));

/** Local settings of one download that no supernode decides. */
export interface PeerLocalConfig {
  /** Go to the source directly when no supernode can be reached (dfget `--no-back-source` clears it). */
  backToSource: boolean;
}

/**
 * The one builder of a host uploader's config: upload slots from the fleet's `peerUpLimit`
 * scaled by this host's declared upload rate (the same rule the scheduler assumes, so the
 * supernode never sends more requesters than the uploader accepts), a per-requester cap of
 * `peerDownLimit`, and the seed's unlist rule. `idleExitMs` is the host's own (0 = never exit).
 */
export function uploaderConfigFor(settings: PeerSettings, uploadRateBytesPerSec: number, idleExitMs: number): UploaderConfig {
  return {
    uploadLimit: uploadSlotsFor(settings, uploadRateBytesPerSec),
    perRequesterLimit: settings.peerDownLimit,
    unlistAfterMs: settings.unlistAfterMs,
    idleExitMs,
    maxTasks: DEFAULT_CONFIG.maxTasks,
  };
}

/**
 * The supernode's own uploader (its CDN cache serving as a special peer): `supernodeUpLimit`
 * slots, `peerDownLimit` per requester, never unlists (the CDN decides what it holds), never exits.
 */
export function supernodeUploaderConfig(cfg: CoreConfig): UploaderConfig {
  return { uploadLimit: cfg.supernodeUpLimit, perRequesterLimit: cfg.peerDownLimit, unlistAfterMs: 0, idleExitMs: 0, maxTasks: cfg.maxTasks };
}
