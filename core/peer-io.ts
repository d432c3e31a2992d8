/** Inputs and effects of the peer (dfget) state machine (peer.ts). */
import type { FailureKind, Grant, PeerId, SupernodeToPeer, TaskId, TaskSpec } from './protocol.ts';
import type { PeerToSupernode } from './protocol.ts';
import type { PeerSettings, SettingsOrigin } from './settings.ts';

export type PeerInput =
  /**
   * Begin a download. `supernodes` is the ordered list to register with (failover walks it).
   * `have` lists pieces already verified on local disk (resume), valid only for `resumePlan`.
   */
  | {
      kind: 'start';
      taskId: TaskId;
      task: TaskSpec;
      supernodes: string[];
      uploadAddr: string;
      have?: number[];
      resumePlan?: { totalBytes: number; pieceSizeBytes: number };
      /** p2p (default): peers and supernode; cdn: supernode only; source: straight from the source. */
      pattern?: 'p2p' | 'cdn' | 'source';
      /** This host's upload capacity or --totallimit, bytes/s (0 or absent = unknown). */
      uploadRateBytesPerSec?: number;
      /** Where this host is (`--idc`, `--location a|b|c`), sent along at registration (protocol.ts RegisterMsg). */
      idc?: string;
      location?: string;
    }
  | { kind: 'supernode-message'; from: string; msg: SupernodeToPeer }
  /** The connection to this supernode failed or closed. */
  | { kind: 'supernode-down'; supernode: string }
  /**
   * A fetch finished. `digest` is the `sha256:<hex>` the driver computed over the bytes it
   * received (null when no bytes came: then `failure` says why).
   */
  | { kind: 'piece-fetched'; piece: number; source: PeerId; digest: string | null; failure?: FailureKind }
  /** Writing a verified piece failed (disk full, I/O error). */
  | { kind: 'write-failed'; piece: number; reason: string }
  /** Result of a back-to-source download; `sizeBytes`: the bytes the source sent. */
  | { kind: 'source-fetched'; ok: boolean; reason?: string; sizeBytes?: number }
  | { kind: 'timeout' };

export interface ByteRange { startByte: number; endByte: number }

/** Ranged back-to-source requests at most; past it, the smallest gaps between runs are fetched too. */
export const MAX_SOURCE_RANGES = 32;

export type PeerEffect =
  /**
   * `waitForUploaderMs` > 0: the message reports pieces as held; send it once they are on disk and
   * this host's uploader knows them, waiting at most this long for an uploader still booting.
   */
  | { kind: 'send'; to: string; msg: PeerToSupernode; waitForUploaderMs?: number }
  /** The settings this download runs with now (from task-info, or the defaults): configure the uploader. */
  | { kind: 'settings'; settings: PeerSettings; origin: SettingsOrigin }
  /** The file's layout is known: size the output, drop local pieces if `discardLocal`. */
  | { kind: 'plan'; taskId: TaskId; totalBytes: number; pieceSizeBytes: number; pieceCount: number; fileDigest?: string; discardLocal: boolean }
  | {
      kind: 'fetch-piece';
      taskId: TaskId;
      piece: number;
      source: PeerId;
      sourceAddr: string;
      startByte: number;
      endByte: number;
      expectedDigest: string;
      /** Give the data-plane request this long; the core's own piece timeout fires first. */
      timeoutMs: number;
      /** The peer's admission to the task, sent with the piece request (absent from an older supernode). */
      grant?: Grant;
    }
  /** The supernode signs grants for this task with `supernodeKey`: this host's uploader trusts it for the task. */
  | { kind: 'trust'; taskId: TaskId; supernodeKey: string }
  /**
   * The whole file's `sha256:<hex>` from the supernode's CDN, learned after the plan (the CDN
   * finished later): every piece is verified against digests of that same CDN pass, so the file
   * hashes to it; a driver that deferred hashing the whole file need not do it.
   */
  | { kind: 'file-digest'; taskId: TaskId; fileDigest: string }
  /** Abandon a running fetch (it timed out); late bytes for it are ignored. */
  | { kind: 'cancel-fetch'; taskId: TaskId; piece: number; source: PeerId }
  /** The bytes just received for `piece` are verified: write them at startByte. */
  | { kind: 'write-piece'; taskId: TaskId; piece: number; startByte: number; endByte: number }
  /**
   * Download from the source (no supernode reachable, back-to-source allowed). `missing`: this
   * peer holds verified pieces of a known plan, so fetch only these byte ranges (runs of missing
   * pieces, in order, at most MAX_SOURCE_RANGES) into the data file and keep the rest; the whole
   * file must then match its known digest. Absent: the whole file.
   */
  | { kind: 'fetch-source'; taskId: TaskId; task: TaskSpec; missing?: ByteRange[] }
  | { kind: 'done'; taskId: TaskId; fromPeersBytes: number; fromSupernodeBytes: number; fromSourceBytes: number }
  | { kind: 'failed'; taskId: TaskId; reason: string; status?: number }
  | { kind: 'log'; level: 'info' | 'warn'; message: string };
