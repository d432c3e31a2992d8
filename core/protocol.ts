/**
 * Messages of the control plane (peer <-> supernode) and data plane (peer <-> peer).
 * Plain data with a `kind`, JSON-serialisable; piece bytes travel beside a data-plane header
 * (see transport/). Nothing here names a file path: a piece is addressed by taskId + index.
 * Untrusted input is checked by `decode.ts` before any machine sees it.
 */
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

export type FailureKind = 'timeout' | 'refused' | 'busy' | 'corrupt' | 'unreachable' | 'io';

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
  /** Pieces already verified locally (resume, or migration from another supernode). */
  have: number[];
  /** Sources this peer refuses (migration carries the local blacklist along). */
  blacklist: PeerId[];
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
}
export interface AssignMsg {
  kind: 'assign';
  taskId: TaskId;
  pieces: Assignment[];
  /** Pull again after this long if nothing else happens (0 = no hint). */
  retryAfterMs: number;
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
export type SupernodeToPeer = TaskInfoMsg | AssignMsg | WaitMsg | TaskFailedMsg;

// ---- peer <-> peer (data plane) ----
export interface PieceRequestMsg {
  kind: 'piece-request';
  /** Chosen by the requester, echoed in the answer. */
  requestId: number;
  taskId: TaskId;
  piece: number;
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
  reason: 'busy' | 'missing';
}
export type DataPlaneMsg = PieceRequestMsg | PieceDataMsg | PieceRefusedMsg;
