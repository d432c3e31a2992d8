/**
 * Decoders for untrusted input: every message a peer, a supernode or another peer's uploader can
 * send us passes through here before any state machine sees it.
 *
 * Each decoder takes `unknown` (usually the output of `parseJsonSafe`) and returns either a freshly
 * built message holding only the fields the protocol defines, or a typed `decode-error` naming the
 * path of the first bad field. They never throw and never run the input's code: fields are read as
 * own data properties (a getter or a Proxy is refused, not invoked), prototypes other than a plain
 * object's are refused, and every string, array and number is bounded, so a hostile sender cannot
 * make us allocate without limit, crash the driver or pollute a prototype. Unknown extra fields are
 * ignored (a newer peer may add some), never copied.
 */
import { DEFAULT_CONFIG, SETTING_BOUNDS } from './config.ts';
import { MAX_HAVE_RANGES, type PieceRange } from './piece-ranges.ts';
import { LATER_PEER_SETTING_KEYS, PEER_SETTING_KEYS, type PeerSettingKey, type PeerSettings } from './settings.ts';
import type {
  Assignment, DataPlaneMsg, FailureKind, Grant, PeerToSupernode, PieceResult, SupernodeToPeer, TaskSpec,
} from './protocol.ts';

export const DECODE_LIMITS = Object.freeze({
  urlChars: 8 * 1024,
  headerNameChars: 256,
  headerValueChars: 8 * 1024,
  headers: 64,
  arrayEntries: 100_000,
  /** Piece indices are below this (2^24 pieces of 4 MiB is 64 TiB). */
  pieceIndexLimit: 2 ** 24,
  taskIdChars: 256,
  /** Peer ids, identifiers and `host:port` addresses. */
  idChars: 1024,
  reasonChars: 8 * 1024,
  /**
   * A peer's declared IDC name, and its `|`-separated location path (topology.ts): room for any
   * value dfget's `--idc`/`--location` accept (manager-api.ts MANAGER_LIMITS: 64-character IDC,
   * 16 levels of at most 64 characters).
   */
  idcChars: 128,
  locationChars: 16 * 65,
  locationParts: 16,
  pieceSizeBytes: 2 ** 31,
  retryAfterMs: 86_400_000,
  /** Grant signatures and supernode keys (base64 of Ed25519 in transport). */
  signatureChars: 512,
  /** Longest JSON text `parseJsonSafe` agrees to parse. */
  jsonChars: 8 * 1024 * 1024,
  /** Deepest nesting `parseJsonSafe` accepts: protocol messages nest 4 deep; a million-deep value
   * would parse, then overflow the stack of whoever walks it (JSON.stringify in a log line). */
  jsonDepth: 32,
});

export interface DecodeError { kind: 'decode-error'; path: string; message: string }
export type Decoded<T> = { ok: true; msg: T } | { ok: false; error: DecodeError };

/** JSON.parse that returns a typed error instead of throwing, and refuses oversized text unread. */
export function parseJsonSafe(text: unknown, maxChars: number = DECODE_LIMITS.jsonChars): Decoded<unknown> {
  if (typeof text !== 'string') return failed('$', `expected JSON text, got ${describe(text)}`);
  if (text.length > maxChars) return failed('$', `JSON text of ${text.length} characters is over the ${maxChars}-character limit`);
  if (nestedDeeperThan(text, DECODE_LIMITS.jsonDepth)) return failed('$', `JSON nested deeper than ${DECODE_LIMITS.jsonDepth} levels`);
  try {
    return { ok: true, msg: JSON.parse(text) as unknown };
  } catch (err) {
    return failed('$', `not valid JSON: ${truncate(err instanceof Error ? err.message : 'parse failed', 200)}`);
  }
}

/** Bracket depth outside string literals; malformed text is left for JSON.parse to reject. */
function nestedDeeperThan(text: string, maxDepth: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > maxDepth) return true;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return false;
}

/** parseJsonSafe followed by a decoder. */
export function decodeJson<T>(text: unknown, decode: (value: unknown) => Decoded<T>): Decoded<T> {
  const parsed = parseJsonSafe(text);
  return parsed.ok ? decode(parsed.msg) : parsed;
}

export function decodePeerToSupernode(value: unknown): Decoded<PeerToSupernode> {
  return guarded(value, (input): PeerToSupernode => {
    const kind = oneOf(input, 'kind', ['register', 'pull', 'report', 'leave'] as const);
    const taskId = str(input, 'taskId', DECODE_LIMITS.taskIdChars);
    switch (kind) {
      case 'register':
        return {
          kind, taskId,
          task: taskSpec(obj(field(input, 'task'), `${input.path}.task`)),
          uploadAddr: str(input, 'uploadAddr', DECODE_LIMITS.idChars, 0),
          have: pieceRanges(input, 'have'),
          ...optionalHavePlan(input),
          blacklist: list(input, 'blacklist', (item) => string(item.value, item.path, DECODE_LIMITS.idChars)),
          pattern: oneOf(input, 'pattern', ['p2p', 'cdn'] as const),
          ...(optional(input, 'lateDigest', () => bool(input, 'lateDigest')) === true && { lateDigest: true }),
          ...optionalRate(input),
          ...optionalPlacement(input),
        };
      case 'pull':
      case 'report':
        return { kind, taskId, results: list(input, 'results', (item) => pieceResult(obj(item.value, item.path))) };
      case 'leave':
        return { kind, taskId };
    }
  });
}

export function decodeSupernodeToPeer(value: unknown): Decoded<SupernodeToPeer> {
  return guarded(value, (input): SupernodeToPeer => {
    const kind = oneOf(input, 'kind', ['task-info', 'assign', 'wait', 'task-failed', 'file-digest'] as const);
    const taskId = str(input, 'taskId', DECODE_LIMITS.taskIdChars);
    switch (kind) {
      case 'task-info': {
        const totalBytes = int(input, 'totalBytes', 0, Number.MAX_SAFE_INTEGER);
        const pieceSizeBytes = int(input, 'pieceSizeBytes', 1, DECODE_LIMITS.pieceSizeBytes);
        const pieceCount = int(input, 'pieceCount', 0, DECODE_LIMITS.pieceIndexLimit);
        if (pieceCount !== Math.ceil(totalBytes / pieceSizeBytes)) {
          fail(`${input.path}.pieceCount`, `${pieceCount} pieces do not cut ${totalBytes} bytes into pieces of ${pieceSizeBytes}`);
        }
        const fileDigest = optional(input, 'fileDigest', (v, path) => digest(v, path));
        const settings = optional(input, 'settings', (v, path) => peerSettings(obj(v, path)));
        const grantValue = optional(input, 'grant', (v, path) => grant(obj(v, path)));
        const supernodeKey = optional(input, 'supernodeKey', (v, path) => string(v, path, DECODE_LIMITS.signatureChars));
        return {
          kind, taskId, totalBytes, pieceSizeBytes, pieceCount, ...(fileDigest !== undefined && { fileDigest }),
          ...(settings !== undefined && { settings }), ...(grantValue !== undefined && { grant: grantValue }),
          ...(supernodeKey !== undefined && { supernodeKey }),
        };
      }
      case 'assign': {
        const grantValue = optional(input, 'grant', (v, path) => grant(obj(v, path)));
        return {
          kind, taskId,
          pieces: list(input, 'pieces', (item) => assignment(obj(item.value, item.path))),
          retryAfterMs: num(input, 'retryAfterMs', 0, DECODE_LIMITS.retryAfterMs),
          ...(grantValue !== undefined && { grant: grantValue }),
        };
      }
      case 'wait':
        return {
          kind, taskId,
          retryAfterMs: num(input, 'retryAfterMs', 0, DECODE_LIMITS.retryAfterMs),
          reason: str(input, 'reason', DECODE_LIMITS.reasonChars, 0),
        };
      case 'file-digest':
        return { kind, taskId, fileDigest: digest(field(input, 'fileDigest'), `${input.path}.fileDigest`) };
      case 'task-failed': {
        const status = optional(input, 'status', (v, path) => integer(v, path, 100, 599));
        return { kind, taskId, reason: str(input, 'reason', DECODE_LIMITS.reasonChars, 0), ...(status !== undefined && { status }) };
      }
    }
  });
}

/**
 * A peer's settings on their own (a dfget hands them to its home's uploader): the same bounds as
 * in `task-info`.
 */
export function decodePeerSettings(value: unknown): Decoded<PeerSettings> {
  return guarded(value, (input) => peerSettings(input));
}

export function decodeDataPlane(value: unknown): Decoded<DataPlaneMsg> {
  return guarded(value, (input): DataPlaneMsg => {
    const kind = oneOf(input, 'kind', ['piece-request', 'piece-data', 'piece-refused'] as const);
    const requestId = int(input, 'requestId', 0, Number.MAX_SAFE_INTEGER);
    switch (kind) {
      case 'piece-request': {
        const grantValue = optional(input, 'grant', (v, path) => grant(obj(v, path)));
        return {
          kind, requestId, taskId: str(input, 'taskId', DECODE_LIMITS.taskIdChars), piece: pieceIndex(field(input, 'piece'), `${input.path}.piece`),
          ...(grantValue !== undefined && { grant: grantValue }),
        };
      }
      case 'piece-data':
        return {
          kind, requestId,
          taskId: str(input, 'taskId', DECODE_LIMITS.taskIdChars),
          piece: pieceIndex(field(input, 'piece'), `${input.path}.piece`),
          sizeBytes: int(input, 'sizeBytes', 0, DECODE_LIMITS.pieceSizeBytes),
        };
      case 'piece-refused':
        return { kind, requestId, reason: oneOf(input, 'reason', ['busy', 'missing', 'unauthorized'] as const) };
    }
  });
}

// ---- shapes shared by several messages ----

const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const FORBIDDEN_IN_HEADER_VALUE = /[\r\n\0]/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;
const FAILURE_KINDS: readonly FailureKind[] = ['timeout', 'refused', 'busy', 'corrupt', 'unreachable', 'io', 'unauthorized', 'slow'];

function taskSpec(spec: Fields): TaskSpec {
  const url = str(spec, 'url', DECODE_LIMITS.urlChars);
  const headers = headerMap(obj(field(spec, 'headers'), `${spec.path}.headers`));
  const digestValue = optional(spec, 'digest', (v, path) => digest(v, path));
  const identifier = optional(spec, 'identifier', (v, path) => string(v, path, DECODE_LIMITS.idChars));
  return {
    url, headers,
    ...(digestValue !== undefined && { digest: digestValue }),
    ...(identifier !== undefined && { identifier }),
  };
}

function headerMap(headers: Fields): Record<string, string> {
  const names = Object.keys(headers.value);
  if (names.length > DECODE_LIMITS.headers) fail(headers.path, `${names.length} headers; at most ${DECODE_LIMITS.headers} are allowed`);
  const out: Record<string, string> = {};
  for (const name of names) {
    const path = `${headers.path}[${JSON.stringify(truncate(name, 40))}]`;
    if (name.length > DECODE_LIMITS.headerNameChars || !HEADER_NAME.test(name) || name === '__proto__') {
      fail(path, 'not a valid HTTP header name');
    }
    const value = string(field(headers, name), path, DECODE_LIMITS.headerValueChars, 0);
    if (FORBIDDEN_IN_HEADER_VALUE.test(value)) fail(path, 'header values may not contain CR, LF or NUL');
    Object.defineProperty(out, name, { value, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

function optionalRate(input: Fields): { uploadRateBytesPerSec?: number } {
  const rate = optional(input, 'uploadRateBytesPerSec', (value, path) => integer(value, path, 0, Number.MAX_SAFE_INTEGER));
  return rate === undefined ? {} : { uploadRateBytesPerSec: rate };
}

function optionalHavePlan(input: Fields): { havePlan?: { totalBytes: number; pieceSizeBytes: number } } {
  const havePlan = optional(input, 'havePlan', (value, path) => {
    const plan = obj(value, path);
    return { totalBytes: int(plan, 'totalBytes', 0, Number.MAX_SAFE_INTEGER), pieceSizeBytes: int(plan, 'pieceSizeBytes', 1, DECODE_LIMITS.pieceSizeBytes) };
  });
  return havePlan === undefined ? {} : { havePlan };
}

function optionalPlacement(input: Fields): { idc?: string; location?: string } {
  const idc = optional(input, 'idc', (value, path) => string(value, path, DECODE_LIMITS.idcChars, 0));
  const location = optional(input, 'location', (value, path) => {
    const text = string(value, path, DECODE_LIMITS.locationChars, 0);
    if (text.split('|').length > DECODE_LIMITS.locationParts) fail(path, `expected at most ${DECODE_LIMITS.locationParts} "|"-separated parts`);
    return text;
  });
  return { ...(idc ? { idc } : {}), ...(location ? { location } : {}) };
}

/**
 * Every fleet setting present (those an older supernode does not know, LATER_PEER_SETTING_KEYS,
 * may be absent: the defaults), within the bounds a supernode itself is held to (config.ts).
 */
function peerSettings(input: Fields): PeerSettings {
  const out = {} as Record<PeerSettingKey, number>;
  for (const key of PEER_SETTING_KEYS) {
    const { min, max } = SETTING_BOUNDS[key];
    out[key] = LATER_PEER_SETTING_KEYS.has(key)
      ? optional(input, key, (value, path) => integer(value, path, min, max)) ?? DEFAULT_CONFIG[key]
      : int(input, key, min, max);
  }
  if (out.waitMaxMs < out.waitMinMs) fail(`${input.path}.waitMaxMs`, 'must be >= waitMinMs');
  if (out.seederRetryMaxMs < out.seederRetryMinMs) fail(`${input.path}.seederRetryMaxMs`, 'must be >= seederRetryMinMs');
  return out as PeerSettings;
}

function grant(input: Fields): Grant {
  return {
    taskId: str(input, 'taskId', DECODE_LIMITS.taskIdChars),
    peer: str(input, 'peer', DECODE_LIMITS.idChars),
    expiresAtMs: int(input, 'expiresAtMs', 0, Number.MAX_SAFE_INTEGER),
    signature: str(input, 'signature', DECODE_LIMITS.signatureChars, 0),
  };
}

function pieceResult(result: Fields): PieceResult {
  const failure = optional(result, 'failure', (v, path) => oneOfValue(v, path, FAILURE_KINDS));
  return {
    piece: pieceIndex(field(result, 'piece'), `${result.path}.piece`),
    source: str(result, 'source', DECODE_LIMITS.idChars),
    ok: bool(result, 'ok'),
    ...(failure !== undefined && { failure }),
  };
}

function assignment(a: Fields): Assignment {
  return {
    piece: pieceIndex(field(a, 'piece'), `${a.path}.piece`),
    source: str(a, 'source', DECODE_LIMITS.idChars),
    sourceAddr: str(a, 'sourceAddr', DECODE_LIMITS.idChars, 0),
    digest: digest(field(a, 'digest'), `${a.path}.digest`),
  };
}

/**
 * [first, end) pairs, ascending and disjoint, each within the piece index limit, at most
 * MAX_HAVE_RANGES of them.
 */
function pieceRanges(from: Fields, key: string): PieceRange[] {
  let previousEnd = 0;
  const ranges = list(from, key, (item) => {
    const [firstValue, endValue] = pair(item.value, item.path);
    const first = integer(firstValue, `${item.path}[0]`, previousEnd, DECODE_LIMITS.pieceIndexLimit - 1);
    const end = integer(endValue, `${item.path}[1]`, first + 1, DECODE_LIMITS.pieceIndexLimit);
    previousEnd = end;
    return [first, end] as PieceRange;
  });
  if (ranges.length > MAX_HAVE_RANGES) fail(`${from.path}.${key}`, `${ranges.length} ranges; at most ${MAX_HAVE_RANGES} are allowed`);
  return ranges;
}

/** The two entries of a [a, b] array, read as own data properties. */
function pair(value: unknown, path: string): [unknown, unknown] {
  const length = Array.isArray(value) ? Object.getOwnPropertyDescriptor(value, 'length')?.value : undefined;
  if (length !== 2) fail(path, `expected a [first, end] pair, got ${describe(value)}`);
  const read = (i: number): unknown => {
    const entry = Object.getOwnPropertyDescriptor(value, i);
    if (entry === undefined || !('value' in entry)) fail(`${path}[${i}]`, 'missing or not a plain array entry');
    return entry.value;
  };
  return [read(0), read(1)];
}

function pieceIndex(value: unknown, path: string): number {
  return integer(value, path, 0, DECODE_LIMITS.pieceIndexLimit - 1);
}

function digest(value: unknown, path: string): string {
  const text = string(value, path, 71);
  if (!DIGEST.test(text)) fail(path, `expected "sha256:" and 64 lowercase hex digits, got ${describe(text)}`);
  return text;
}

// ---- primitive readers: each throws a DecodeFailure, which `guarded` turns into a result ----

/** A plain object being read, with the path that names it in errors. */
interface Fields { value: object; path: string }

class DecodeFailure {
  constructor(readonly path: string, readonly message: string) {}
}

function fail(path: string, message: string): never {
  throw new DecodeFailure(path, message);
}

function failed(path: string, message: string): { ok: false; error: DecodeError } {
  return { ok: false, error: { kind: 'decode-error', path, message } };
}

function guarded<T>(value: unknown, decode: (input: Fields) => T): Decoded<T> {
  try {
    return { ok: true, msg: decode(obj(value, '$')) };
  } catch (err) {
    if (err instanceof DecodeFailure) return failed(err.path, err.message);
    // Only a Proxy or an exotic object can get here (a trap threw); say so without touching it further.
    return failed('$', 'input could not be inspected (a proxy or exotic object?); send plain JSON');
  }
}

function obj(value: unknown, path: string): Fields {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(path, `expected an object, got ${describe(value)}`);
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) fail(path, 'expected a plain object');
  return { value, path };
}

/** An own data property; accessors are refused so no input code ever runs. */
function field(from: Fields, key: string): unknown {
  const found = Object.getOwnPropertyDescriptor(from.value, key);
  if (found === undefined) fail(`${from.path}.${key}`, 'missing');
  if (!('value' in found)) fail(`${from.path}.${key}`, 'accessor properties are not accepted');
  return found.value;
}

function optional<T>(from: Fields, key: string, read: (value: unknown, path: string) => T): T | undefined {
  return Object.getOwnPropertyDescriptor(from.value, key) === undefined ? undefined : read(field(from, key), `${from.path}.${key}`);
}

function list<T>(from: Fields, key: string, read: (item: { value: unknown; path: string }) => T): T[] {
  const path = `${from.path}.${key}`;
  const value = field(from, key);
  if (!Array.isArray(value)) fail(path, `expected an array, got ${describe(value)}`);
  const length = Object.getOwnPropertyDescriptor(value, 'length')?.value as number;
  if (length > DECODE_LIMITS.arrayEntries) fail(path, `${length} entries; at most ${DECODE_LIMITS.arrayEntries} are allowed`);
  const out: T[] = [];
  for (let i = 0; i < length; i++) {
    const entry = Object.getOwnPropertyDescriptor(value, i);
    if (entry === undefined || !('value' in entry)) fail(`${path}[${i}]`, 'missing or not a plain array entry');
    out.push(read({ value: entry.value, path: `${path}[${i}]` }));
  }
  return out;
}

function str(from: Fields, key: string, maxChars: number, minChars = 1): string {
  return string(field(from, key), `${from.path}.${key}`, maxChars, minChars);
}

function string(value: unknown, path: string, maxChars: number, minChars = 1): string {
  if (typeof value !== 'string') fail(path, `expected a string, got ${describe(value)}`);
  if (value.length < minChars || value.length > maxChars) {
    fail(path, `expected ${minChars}..${maxChars} characters, got ${value.length}`);
  }
  return value;
}

function int(from: Fields, key: string, min: number, max: number): number {
  return integer(field(from, key), `${from.path}.${key}`, min, max);
}

function integer(value: unknown, path: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    fail(path, `expected a whole number from ${min} to ${max}, got ${describe(value)}`);
  }
  return value + 0; // -0 becomes 0
}

function num(from: Fields, key: string, min: number, max: number): number {
  const value = field(from, key);
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    fail(`${from.path}.${key}`, `expected a number from ${min} to ${max}, got ${describe(value)}`);
  }
  return value + 0;
}

function bool(from: Fields, key: string): boolean {
  const value = field(from, key);
  if (typeof value !== 'boolean') fail(`${from.path}.${key}`, `expected true or false, got ${describe(value)}`);
  return value;
}

function oneOf<const T extends string>(from: Fields, key: string, options: readonly T[]): T {
  return oneOfValue(field(from, key), `${from.path}.${key}`, options);
}

function oneOfValue<const T extends string>(value: unknown, path: string, options: readonly T[]): T {
  if (typeof value !== 'string' || !(options as readonly string[]).includes(value)) {
    fail(path, `expected one of ${options.join(', ')}, got ${describe(value)}`);
  }
  return value as T;
}

/** A short, safe description of an untrusted value for error messages; never calls its code. */
function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(truncate(value, 40));
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint' || value == null) return String(value);
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

function truncate(text: string, maxChars: number): string {
  return text.length > maxChars ? `${text.slice(0, maxChars)}...` : text;
}
