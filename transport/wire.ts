/**
 * The wire format shared by supernode, dfget's uploader and dfdaemon.
 *
 * Control plane: WebSocket `ws://HOST:PORT/peer?peerId=<id>`, text frames carrying JSON of
 * `PeerToSupernode` / `SupernodeToPeer` (decoded with core/decode.ts before any machine sees them).
 * Data plane: WebSocket `ws://ADDR/data`; a `piece-request` text frame is answered by a
 * `piece-refused` text frame or ONE binary frame laid out as
 *
 *   [uint32 BE header length][header JSON: piece-data {requestId, taskId, piece, sizeBytes}][bytes]
 *
 * Pieces travel in one frame so a receiver never reassembles or buffers partial pieces, and the
 * header says how many bytes must follow, so a truncated or padded frame is detected, not trusted.
 */
import type { RawData, WebSocket } from 'ws';
import { decodeDataPlane, decodeJson } from '../core/decode.ts';
import type { PieceDataMsg, PieceRequestMsg } from '../core/protocol.ts';

export const DEFAULT_SUPERNODE_PORT = 8002;
export const CONTROL_PATH = '/peer';
export const DATA_PATH = '/data';

/** Largest piece the protocol carries (the seed's rule tops out at 15 MiB). */
export const MAX_PIECE_BYTES = 16 * 1024 * 1024;
/** Largest header JSON in a piece frame; also bounds every text frame. */
export const MAX_HEADER_BYTES = 64 * 1024;
/** Used as ws `maxPayload` on every server and client: larger frames close the connection (1009). */
export const MAX_FRAME_BYTES = MAX_PIECE_BYTES + MAX_HEADER_BYTES;
/** Text frames (control messages, piece requests) are small; anything larger is refused. */
export const MAX_TEXT_FRAME_BYTES = MAX_HEADER_BYTES;

/** Close codes (4000-4999 are for applications). */
export const CLOSE_BAD_REQUEST = 4400;
/** Another live connection already declared this peerId. */
export const CLOSE_DUPLICATE_PEER = 4409;
export const CLOSE_SHUTTING_DOWN = 1001;

const HEADER_LENGTH_BYTES = 4;

export type FrameError = { kind: 'frame-error'; message: string };
export type DecodedPieceFrame = { ok: true; header: PieceDataMsg; bytes: Buffer } | { ok: false; error: FrameError };

/** One binary frame: length-prefixed header JSON followed by the piece bytes. */
export function encodePieceFrame(header: PieceDataMsg, bytes: Uint8Array): Buffer {
  if (header.sizeBytes !== bytes.length) {
    throw new Error(`piece frame header says ${header.sizeBytes} bytes but ${bytes.length} were given`);
  }
  const prefix = pieceFramePrefix(header);
  const frame = Buffer.allocUnsafe(prefix.length + bytes.length);
  prefix.copy(frame, 0);
  frame.set(bytes, prefix.length);
  return frame;
}

/**
 * The bytes that precede a piece in its frame (`[uint32 BE length][header JSON]`), for senders
 * that place the piece bytes into a reused buffer themselves instead of copying them.
 */
export function pieceFramePrefix(header: PieceDataMsg): Buffer {
  if (header.sizeBytes > MAX_PIECE_BYTES) throw new Error(`piece of ${header.sizeBytes} bytes exceeds the ${MAX_PIECE_BYTES}-byte limit`);
  const headerJson = Buffer.from(JSON.stringify(header), 'utf8');
  if (headerJson.length > MAX_HEADER_BYTES) throw new Error(`piece frame header of ${headerJson.length} bytes is too long`);
  const prefix = Buffer.allocUnsafe(HEADER_LENGTH_BYTES + headerJson.length);
  prefix.writeUInt32BE(headerJson.length, 0);
  headerJson.copy(prefix, HEADER_LENGTH_BYTES);
  return prefix;
}

/** Parse a binary piece frame from an untrusted sender; never throws. */
export function decodePieceFrame(data: Buffer | ArrayBuffer | Buffer[]): DecodedPieceFrame {
  const buf = rawToBuffer(data);
  const fail = (message: string): DecodedPieceFrame => ({ ok: false, error: { kind: 'frame-error', message } });
  if (buf.length < HEADER_LENGTH_BYTES) return fail(`frame of ${buf.length} bytes is shorter than its length prefix`);
  const headerLength = buf.readUInt32BE(0);
  if (headerLength === 0 || headerLength > MAX_HEADER_BYTES) return fail(`header length ${headerLength} outside 1..${MAX_HEADER_BYTES}`);
  if (HEADER_LENGTH_BYTES + headerLength > buf.length) return fail(`header length ${headerLength} runs past the ${buf.length}-byte frame`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(buf.subarray(HEADER_LENGTH_BYTES, HEADER_LENGTH_BYTES + headerLength).toString('utf8'));
  } catch {
    return fail('header is not valid JSON');
  }
  const header = checkPieceDataHeader(parsed);
  if (typeof header === 'string') return fail(header);
  const bytes = buf.subarray(HEADER_LENGTH_BYTES + headerLength);
  if (bytes.length !== header.sizeBytes) return fail(`header says ${header.sizeBytes} bytes but the frame carries ${bytes.length}`);
  return { ok: true, header, bytes };
}

function checkPieceDataHeader(value: unknown): PieceDataMsg | string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'header is not an object';
  const v = value as Record<string, unknown>;
  if (v.kind !== 'piece-data') return `header kind must be "piece-data", got ${JSON.stringify(v.kind)?.slice(0, 40)}`;
  if (!isWholeNumber(v.requestId)) return 'header requestId must be a whole number';
  if (typeof v.taskId !== 'string' || v.taskId.length === 0 || v.taskId.length > 256) return 'header taskId must be a short string';
  if (!isWholeNumber(v.piece)) return 'header piece must be a whole number';
  if (!isWholeNumber(v.sizeBytes) || v.sizeBytes > MAX_PIECE_BYTES) return `header sizeBytes must be 0..${MAX_PIECE_BYTES}`;
  return { kind: 'piece-data', requestId: v.requestId, taskId: v.taskId, piece: v.piece, sizeBytes: v.sizeBytes };
}

function isWholeNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/**
 * A frame a peer sent to an uploader's (or the supernode's) data plane: the piece request, or
 * why the connection must close (a peer that breaks the protocol gets no more trust on it).
 */
export function decodePieceRequest(data: RawData, isBinary: boolean): PieceRequestMsg | string {
  if (isBinary) return 'piece requests are JSON text';
  const decoded = decodeJson(rawToBuffer(data).toString('utf8'), decodeDataPlane);
  if (!decoded.ok) return `bad message at ${decoded.error.path}: ${decoded.error.message}`;
  if (decoded.msg.kind !== 'piece-request') return `expected piece-request, got ${decoded.msg.kind}`;
  return decoded.msg;
}

/** ws hands over Buffer, ArrayBuffer or fragments depending on binaryType; normalise to one Buffer. */
export function rawToBuffer(data: Buffer | ArrayBuffer | Buffer[]): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/** Send a message as a JSON text frame when the socket is open; returns whether it was sent. */
export function sendJson(ws: WebSocket, msg: unknown): boolean {
  if (ws.readyState !== ws.OPEN) return false;
  ws.send(JSON.stringify(msg));
  return true;
}

/** Control-plane URL for a supernode at `host:port`. */
export function controlUrl(supernodeAddr: string, peerId: string): string {
  return `ws://${supernodeAddr}${CONTROL_PATH}?peerId=${encodeURIComponent(peerId)}`;
}

/** Data-plane URL for an uploader (or the supernode) at `host:port`. */
export function dataUrl(addr: string): string {
  return `ws://${addr}${DATA_PATH}`;
}
