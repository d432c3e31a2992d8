/**
 * Messages of the control plane (peer <-> supernode) and data plane (peer <-> peer).
 * Plain data with a `kind`, JSON-serialisable; piece bytes travel beside a data-plane header
 * (see transport/). Nothing here names a file path: a piece is addressed by taskId + index.
 * Untrusted input is checked by `decode.ts` before any machine sees it.
 *
 * Admission (issue 11): `task-info` carries the peer's `grant` and the `supernodeKey` that signs
 * it; an `assign` may carry a renewed `grant`; every `piece-request` carries the requester's
 * `grant`, and a data plane without a valid one answers `piece-refused` with reason
 * `unauthorized` (a result then reports failure `unauthorized`, which blames no one). A client
 * that sends no grant gets no piece bytes from a supernode or an uploader of this version.
 */
import type { PieceRange } from './piece-ranges.ts';
import type { PeerSettings } from './settings.ts';

/** Identity of a peer as vouched for by the driver (a connection in transport, a host in sim). */
export type PeerId = string;
export type TaskId = string;

/** Source id meaning "the supernode's CDN cache" in assignments and results. */
export const SUPERNODE: PeerId = '@supernode';

export interface TaskSpec {
  url: string;
  /** Request headers for the source (e.g. Authorization); the supernode fetches with them. */
  headers: Record<string, string>;
  /** Expected whole-file digest, `sha256:<hex>`, when the user knows it. */
  digest?: string;
  identifier?: string;
}

/**
 * Why a fetch failed. `unauthorized`: the source refused the requester's grant (expired, or the
 * source does not know the supernode's key yet); it says nothing about the source, and asks the
 * supernode for a fresh grant. `slow`: the requester gave up on a fetch far slower than its others
 * (`slowFetchFactor`); the source goes on the requester's local blacklist only, with no accusation.
 */
export type FailureKind = 'timeout' | 'refused' | 'busy' | 'corrupt' | 'unreachable' | 'io' | 'unauthorized' | 'slow';

/**
 * Admission to a task's pieces: issued by the supernode to a peer it admitted (after any
 * credential check) and carried in every piece request. Uploaders, and the supernode's own data
 * plane, serve a piece only against a grant for that task, unexpired, signed by a supernode key
 * they trust for it (see core/uploader.ts). Core decides who gets one and for how long; the
 * signature is the driver's (Ed25519 in transport, a structural token in the simulator) and core
 * never reads it. A grant is a bearer token: whoever holds it may use it until it expires.
 */
export interface Grant {
  taskId: TaskId;
  /** The peer it was issued to (for logs and audit; the data plane cannot check who holds it). */
  peer: PeerId;
  /** Expiry on the drivers' shared clock (epoch ms on the wire in transport; virtual ms in sim). */
  expiresAtMs: number;
  signature: string;
}

export interface PieceResult {
  piece: number;
  source: PeerId;
  ok: boolean;
  failure?: FailureKind;
}

export interface Assignment {
  piece: number;
  source: PeerId;
  /** Where the source's uploader listens (opaque to core: `host:port` in transport). */
  sourceAddr: string;
  /** `sha256:<hex>` of the piece, from the supernode's CDN. */
  digest: string;
}

// ---- peer -> supernode ----
export interface RegisterMsg {
  kind: 'register';
  taskId: TaskId;
  task: TaskSpec;
  /** Address of this peer's uploader. */
  uploadAddr: string;
  /**
   * Pieces already verified locally (resume, migration from another supernode, a seeder's whole
   * file) as [first, end) ranges, ascending and disjoint (piece-ranges.ts): a 13,654-piece file
   * held whole is [[0, 13654]].
   */
  have: PieceRange[];
  /**
   * The plan `have` counts pieces of (the one a supernode gave, or a resumed download's from its
   * disk); sent whenever `have` is not empty. A supernode whose plan differs (another piece size,
   * a changed file) ignores `have`; absent (an older peer), `have` is taken in its plan.
   */
  havePlan?: { totalBytes: number; pieceSizeBytes: number };
  /** Sources this peer refuses (migration carries the local blacklist along). */
  blacklist: PeerId[];
  /**
   * This peer takes a `file-digest` message: registered before the CDN had the whole file, it is
   * told the file's digest when the CDN finishes, and need not hash the file itself. Absent (an
   * older peer): never sent one.
   */
  lateDigest?: boolean;
  /** 'cdn': take every piece from the supernode and serve none (dfget --pattern cdn). */
  pattern: 'p2p' | 'cdn';
  /**
   * What this peer can upload, bytes/s (its link or `--totallimit`); absent = unknown. The
   * scheduler sends requesters to the source with the best expected rate per upload.
   */
  uploadRateBytesPerSec?: number;
  /**
   * Where this peer is (dfget/dfdaemon `--idc`, `--location`): its IDC, and a location path of
   * `|`-separated parts from the widest to the narrowest (`region|zone|rack`). The scheduler
   * prefers sources in the same IDC, then with the longest common location prefix (topology.ts).
   * Absent or empty = unknown.
   */
  idc?: string;
  location?: string;
}
export interface PullMsg {
  kind: 'pull';
  taskId: TaskId;
  /** Results since the last message. */
  results: PieceResult[];
}
/** Results with no answer expected (a finished peer's last results). */
export interface ReportMsg {
  kind: 'report';
  taskId: TaskId;
  results: PieceResult[];
}
export interface LeaveMsg {
  kind: 'leave';
  taskId: TaskId;
}
export type PeerToSupernode = RegisterMsg | PullMsg | ReportMsg | LeaveMsg;

// ---- supernode -> peer ----
export interface TaskInfoMsg {
  kind: 'task-info';
  taskId: TaskId;
  totalBytes: number;
  pieceSizeBytes: number;
  pieceCount: number;
  /** Whole-file `sha256:<hex>`, when the CDN has it. */
  fileDigest?: string;
  /**
   * The fleet's settings (settings.ts) the peer and its uploader run with; absent from an older
   * supernode, when the peer falls back to the defaults and logs it.
   */
  settings?: PeerSettings;
  /** This peer's admission to the task's pieces (absent from an older supernode). */
  grant?: Grant;
  /** The key that signs this supernode's grants: the peer's uploader trusts it for this task. */
  supernodeKey?: string;
}
export interface AssignMsg {
  kind: 'assign';
  taskId: TaskId;
  pieces: Assignment[];
  /** Pull again after this long if nothing else happens (0 = no hint). */
  retryAfterMs: number;
  /** A fresh grant, replacing the one from task-info (it was past half its life, or refused). */
  grant?: Grant;
}
export interface WaitMsg {
  kind: 'wait';
  taskId: TaskId;
  retryAfterMs: number;
  reason: string;
}
export interface TaskFailedMsg {
  kind: 'task-failed';
  taskId: TaskId;
  reason: string;
  /** Source HTTP status when the failure came from the source (404, 401, ...). */
  status?: number;
}
/**
 * The CDN finished the file after this peer's `task-info`: its whole-file `sha256:<hex>`, from the
 * same pass that cut the piece digests the peer verifies against (sent only to `lateDigest` peers).
 */
export interface FileDigestMsg {
  kind: 'file-digest';
  taskId: TaskId;
  fileDigest: string;
}
export type SupernodeToPeer = TaskInfoMsg | AssignMsg | WaitMsg | TaskFailedMsg | FileDigestMsg;

// ---- peer <-> peer (data plane) ----
export interface PieceRequestMsg {
  kind: 'piece-request';
  /** Chosen by the requester, echoed in the answer. */
  requestId: number;
  taskId: TaskId;
  piece: number;
  /** The requester's admission to the task; without a valid one no bytes are served. */
  grant?: Grant;
}
/** Header of a piece answer; the bytes follow in the same binary frame. */
export interface PieceDataMsg {
  kind: 'piece-data';
  requestId: number;
  taskId: TaskId;
  piece: number;
  sizeBytes: number;
}
export interface PieceRefusedMsg {
  kind: 'piece-refused';
  requestId: number;
  reason: 'busy' | 'missing' | 'unauthorized';
}
export type DataPlaneMsg = PieceRequestMsg | PieceDataMsg | PieceRefusedMsg;
