/**
 * The loopback control channel between a home's downloads and its uploader (`/control?token=`;
 * the token is in the home's lock file, so only local processes of the home's owner reach it).
 *
 *   dfget -> uploader
 *   list-task    the data file holding a task and its layout (again after it moved to `.server`;
 *                with `outputStamp` when `.server` is a second name of the user's output)
 *   have-piece   a verified piece of a listed task
 *   seed-task    the download finished: register it with its supernodes (seeder)
 *   configure    the fleet's settings a download got from its supernode: upload slots,
 *                per-requester cap, unlist time and the seeder's back-off follow them
 *   trust-key    the key a download's supernode signs grants with: requests for that task
 *                carrying a grant it signed are admitted
 *   make-room    a download of `bytes` into `fileName` is about to start: keep the data dir
 *                under its limit with those bytes counted (`--data-max`), then answer
 *   uploader -> dfget
 *   unknown-task a have-piece named a task that is not listed: send list-task and every piece again
 *   room-made    the answer to make-room `requestId`
 *
 * The channel is local but its input is still checked here before anything acts on it: a file
 * name only in the data dir's own pattern, a layout that adds up, a seeded spec that hashes to
 * its taskId, settings within the core's bounds.
 */
import { decodePeerSettings, decodePeerToSupernode, parseJsonSafe } from '../../core/decode.ts';
import type { TaskSpec } from '../../core/protocol.ts';
import type { PeerSettings } from '../../core/settings.ts';
import { isTaskId, taskIdFor } from '../task-id.ts';

export const CONTROL_PATH = '/control';
/** Data files: `<taskId>` or `<taskId>-<output key>` while downloading, `<taskId>.server` after. */
export const DATA_FILE_NAME = /^[0-9a-f]{64}(?:-[0-9a-f]{16})?(?:\.server)?$/;
/**
 * A `.server` backup replaced by a newer download of its task waits under this name for the
 * uploader to remove it (data-gc.ts, at its next pass): removing the last name of a large file
 * frees its page cache inside the call (2.5 s for 1 GiB here), which must not hold up a dfget.
 */
export const SET_ASIDE_NAME = /^[0-9a-f]{64}\.server\.superseded-[0-9a-f]{8}$/;

/** A set-aside name for the backup at `serverPath` (random, so two never meet). */
export function setAsideNameOf(serverPath: string, randomHex8: string): string {
  return `${serverPath}.superseded-${randomHex8}`;
}

export interface TaskLayout { totalBytes: number; pieceSizeBytes: number; pieceCount: number }

/**
 * Size and modification time (ns, decimal) of a `.server` backup that is a hard link to the
 * user's output: the uploader serves it only while both are unchanged, so a user who edits the
 * output stops this host seeding it instead of making it serve bytes other hosts reject.
 */
export interface OutputStamp { sizeBytes: number; mtimeNs: string }

export type ListTaskMsg = { kind: 'list-task'; taskId: string; fileName: string; outputStamp?: OutputStamp } & TaskLayout;
export type SeedTaskMsg = {
  kind: 'seed-task'; taskId: string; task: TaskSpec; supernodes: string[]; uploadRateBytesPerSec?: number; fileDigest?: string;
};
export type ControlMsg =
  | ListTaskMsg
  | { kind: 'have-piece'; taskId: string; piece: number }
  | SeedTaskMsg
  | { kind: 'configure'; settings: PeerSettings }
  | { kind: 'trust-key'; taskId: string; key: string }
  | MakeRoomMsg;
export type MakeRoomMsg = { kind: 'make-room'; requestId: number; fileName: string; bytes: number };
export type ControlReply = { kind: 'unknown-task'; taskId: string } | { kind: 'room-made'; requestId: number };

const SUPERNODE_ADDR = /^[A-Za-z0-9._\-[\]:]{1,255}:[0-9]{1,5}$/;
const MAX_SUPERNODES = 16;
/** A supernode's grant key as task-info carries it: base64 of its DER public key. */
const SUPERNODE_KEY = /^[A-Za-z0-9+/=]{1,512}$/;

/** A control frame, checked; a string says what is wrong with it. */
export function parseControlMsg(text: string): ControlMsg | string {
  const parsed = parseJsonSafe(text);
  if (!parsed.ok) return parsed.error.message;
  const msg = parsed.msg as Record<string, unknown>;
  if (typeof msg !== 'object' || msg === null) return 'a control message is a JSON object';
  switch (msg.kind) {
    case 'list-task': return checkListTask(msg);
    case 'have-piece':
      if (!isTaskId(msg.taskId) || !Number.isSafeInteger(msg.piece)) return 'have-piece needs a taskId and a whole piece number';
      return { kind: 'have-piece', taskId: msg.taskId, piece: msg.piece as number };
    case 'seed-task': return checkSeedTask(msg);
    case 'configure': {
      const settings = decodePeerSettings(msg.settings);
      return settings.ok ? { kind: 'configure', settings: settings.msg } : `configure: settings${settings.error.path.slice(1)}: ${settings.error.message}`;
    }
    case 'trust-key':
      if (!isTaskId(msg.taskId) || typeof msg.key !== 'string' || !SUPERNODE_KEY.test(msg.key)) return 'trust-key needs a taskId and a base64 key';
      return { kind: 'trust-key', taskId: msg.taskId, key: msg.key };
    case 'make-room':
      if (!Number.isSafeInteger(msg.requestId) || typeof msg.fileName !== 'string' || !DATA_FILE_NAME.test(msg.fileName)
        || !Number.isSafeInteger(msg.bytes) || (msg.bytes as number) < 0) {
        return 'make-room needs a whole requestId, a data file name and a whole number of bytes';
      }
      return { kind: 'make-room', requestId: msg.requestId as number, fileName: msg.fileName, bytes: msg.bytes as number };
    default: return `unknown control message ${JSON.stringify(msg.kind)?.slice(0, 40)}`;
  }
}

function checkListTask(msg: Record<string, unknown>): ListTaskMsg | string {
  const layout = { totalBytes: msg.totalBytes, pieceSizeBytes: msg.pieceSizeBytes, pieceCount: msg.pieceCount };
  if (!isTaskId(msg.taskId) || typeof msg.fileName !== 'string' || !DATA_FILE_NAME.test(msg.fileName) || !validLayout(layout)) {
    return `invalid list-task for ${String(msg.taskId).slice(0, 80)}`;
  }
  if (msg.outputStamp === undefined) return { kind: 'list-task', taskId: msg.taskId, fileName: msg.fileName, ...layout };
  const stamp = msg.outputStamp as Record<string, unknown> | null;
  if (typeof stamp !== 'object' || stamp === null || !Number.isSafeInteger(stamp.sizeBytes) || (stamp.sizeBytes as number) < 0
    || typeof stamp.mtimeNs !== 'string' || !/^\d{1,30}$/.test(stamp.mtimeNs) || !msg.fileName.endsWith('.server')) {
    return `invalid list-task for ${msg.taskId}: a bad outputStamp`;
  }
  const outputStamp: OutputStamp = { sizeBytes: stamp.sizeBytes as number, mtimeNs: stamp.mtimeNs };
  return { kind: 'list-task', taskId: msg.taskId, fileName: msg.fileName, outputStamp, ...layout };
}

/** The seed-task fields, checked: the task spec must decode and hash to the taskId. */
function checkSeedTask(msg: Record<string, unknown>): SeedTaskMsg | string {
  const invalid = (why: string): string => `invalid seed-task: ${why}`;
  if (!isTaskId(msg.taskId)) return invalid('taskId must be 64 hex digits');
  const decoded = decodePeerToSupernode({ kind: 'register', taskId: msg.taskId, task: msg.task, uploadAddr: '', have: [], blacklist: [], pattern: 'p2p' });
  if (!decoded.ok || decoded.msg.kind !== 'register') return invalid(`task ${decoded.ok ? '' : decoded.error.message}`);
  const task = decoded.msg.task;
  try {
    if (taskIdFor(task) !== msg.taskId) return invalid('the task does not hash to its taskId');
  } catch (err) {
    return invalid((err as Error).message);
  }
  const supernodes = msg.supernodes;
  if (!Array.isArray(supernodes) || supernodes.length === 0 || supernodes.length > MAX_SUPERNODES
    || !supernodes.every((a) => typeof a === 'string' && SUPERNODE_ADDR.test(a))) {
    return invalid(`supernodes must be 1-${MAX_SUPERNODES} host:port addresses`);
  }
  const rate = msg.uploadRateBytesPerSec;
  if (rate !== undefined && !(Number.isSafeInteger(rate) && (rate as number) > 0)) return invalid('uploadRateBytesPerSec must be a whole number > 0');
  const fileDigest = msg.fileDigest;
  if (fileDigest !== undefined && !(typeof fileDigest === 'string' && /^sha256:[0-9a-f]{64}$/.test(fileDigest))) return invalid('fileDigest must be sha256:<hex>');
  return {
    kind: 'seed-task', taskId: msg.taskId, task, supernodes: [...supernodes] as string[],
    ...(rate !== undefined ? { uploadRateBytesPerSec: rate as number } : {}),
    ...(fileDigest !== undefined ? { fileDigest: fileDigest as string } : {}),
  };
}

function validLayout(t: Record<keyof TaskLayout, unknown>): t is TaskLayout {
  return Number.isSafeInteger(t.totalBytes) && (t.totalBytes as number) >= 0 && Number.isSafeInteger(t.pieceSizeBytes)
    && (t.pieceSizeBytes as number) > 0 && t.pieceCount === Math.ceil((t.totalBytes as number) / (t.pieceSizeBytes as number));
}
