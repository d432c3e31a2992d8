/** Inputs and effects of the supernode state machine (supernode.ts). */
import type { PeerId, PeerToSupernode, SupernodeToPeer, TaskId, TaskSpec } from './protocol.ts';

export type SupernodeInput =
  /** A decoded message from a peer; `from` is the identity the driver vouches for. */
  | { kind: 'peer-message'; from: PeerId; msg: PeerToSupernode }
  /** The peer's connection closed or the host is known dead: it is no longer a source. */
  | { kind: 'peer-gone'; peerId: PeerId }
  /** CDN learned the source's length (null = unknown until the whole file is fetched). */
  | { kind: 'cdn-length'; taskId: TaskId; totalBytes: number | null }
  /** CDN stored piece `piece` and computed its digest (`sha256:<hex>`). */
  | { kind: 'cdn-piece'; taskId: TaskId; piece: number; digest: string }
  /** CDN has the whole file; totalBytes is final. */
  | { kind: 'cdn-done'; taskId: TaskId; totalBytes: number; fileDigest: string }
  /** Source fetch failed for good (404, auth, length mismatch, digest mismatch, ...). */
  | { kind: 'cdn-failed'; taskId: TaskId; reason: string; status?: number }
  /** A cached piece went missing or corrupt on the supernode's disk; the CDN refetches it. */
  | { kind: 'cdn-piece-lost'; taskId: TaskId; piece: number }
  /** Answer to `cdn-revalidate`: changed=false means a 304 (reuse the cache). */
  | { kind: 'cdn-validated'; taskId: TaskId; changed: boolean }
  /** Answer to `check-auth`: may this peer's credentials read the source? */
  | { kind: 'auth-result'; taskId: TaskId; peerId: PeerId; allowed: boolean; reason?: string; status?: number }
  /**
   * The CDN removed this task's files to stay under its size limit (never one `cacheNeeded`
   * says it needs): forget the task and send its registered peers away; nothing is left to drop.
   */
  | { kind: 'cdn-evicted'; taskId: TaskId }
  /** Fetch this task into the cache before anyone asks (preheat), and report on it (`preheat-update`). */
  | { kind: 'preheat'; taskId: TaskId; task: TaskSpec }
  | { kind: 'timeout' };

/** Where a preheated task stands: fetching (or revalidating), in the cache, or given up. */
export interface PreheatUpdate {
  kind: 'preheat-update';
  taskId: TaskId;
  state: 'fetching' | 'ready' | 'failed';
  /** Bytes of the pieces the CDN holds; totalBytes null until the source's length is known. */
  bytesDone: number;
  totalBytes: number | null;
  reason?: string;
}

export type SupernodeEffect =
  | { kind: 'send'; to: PeerId; msg: SupernodeToPeer }
  /** Start (or resume) fetching the source into the cache, piece by piece. */
  | { kind: 'cdn-fetch'; taskId: TaskId; task: TaskSpec; pieceSizeBytes: number }
  /** Refetch one piece whose cached copy was lost. */
  | { kind: 'cdn-refetch-piece'; taskId: TaskId; piece: number }
  /** Ask the source whether the cached copy is still current (If-None-Match / If-Modified-Since). */
  | { kind: 'cdn-revalidate'; taskId: TaskId; task: TaskSpec }
  /** Forget the cached copy (source changed or failed). */
  | { kind: 'cdn-drop'; taskId: TaskId }
  /** Check this requester's credentials against the source before giving it cached pieces. */
  | { kind: 'check-auth'; taskId: TaskId; peerId: PeerId; task: TaskSpec }
  /** Observability: a piece assignment was made (metrics count supernode vs peer sources). */
  | { kind: 'assigned'; taskId: TaskId; to: PeerId; piece: number; source: PeerId }
  /** Answer to `preheat`, then every change of a preheated task until it is ready or failed. */
  | PreheatUpdate
  | { kind: 'log'; level: 'info' | 'warn'; message: string };
