/**
 * The managing node's HTTP API as data, and the decoders every side runs on what it receives:
 * the manager on announcements and queries (from any host on the network), supernodes and
 * clients on the manager's answers. Decoders never throw; they return a value holding only the
 * fields defined here, or a `decode-error` naming the first bad field. Every string, list and
 * number is bounded, and only own data properties of plain objects are read.
 *
 *   POST   /v1/supernodes            body AnnounceMsg   -> 200 AnnounceReply (announce = heartbeat)
 *   DELETE /v1/supernodes/<address>                    -> 204 (a supernode leaving), 404 unknown
 *   GET    /v1/supernodes?idc=&location=               -> 200 ChooseAnswer
 *   GET    /healthz, /metrics
 * Errors: 4xx/5xx with `{ "error": "<what went wrong and what to do>" }`.
 */
import { parseJsonSafe, type Decoded } from './decode.ts';

export const MANAGER_API_PATH = '/v1/supernodes';
export const DEFAULT_MANAGER_PORT = 8004;

export const MANAGER_LIMITS = Object.freeze({
  /** Largest request body the manager reads (an announcement is ~200 bytes). */
  bodyBytes: 4096,
  idcChars: 64,
  locationSegments: 16,
  locationSegmentChars: 64,
  /** `host:port`; DNS names are at most 253 characters. */
  addressChars: 261,
  /** Reported peers per supernode. */
  load: 1_000_000_000,
  /** Supernodes in one answer (and the manager's default table size). */
  supernodes: 1024,
  ttlMs: 86_400_000,
});

export interface AnnounceMsg {
  /** `host:port` peers dial. */
  address: string;
  idc: string;
  location: string;
  /** Peers served now; null = not reported. */
  load: number | null;
}

export interface AnnounceReply {
  /** The supernode is dropped if it does not announce again within this long. */
  ttlMs: number;
  /** How often to announce (a third of the TTL, so two lost heartbeats are survived). */
  heartbeatIntervalMs: number;
}

export interface SupernodeInfo { address: string; idc: string; location: string }

export interface ChooseQuery { idc: string; location: string }

export interface ChooseAnswer {
  /** The most suitable supernode (first of `supernodes`); null when none is known. */
  assigned: string | null;
  /** Every live supernode, most suitable first. */
  supernodes: SupernodeInfo[];
}

const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]{2,45}\])$/;
const NAME = /^[A-Za-z0-9._-]+$/;
const UNSPECIFIED_HOSTS = new Set(['0.0.0.0', '[::]', '[0:0:0:0:0:0:0:0]']);

/** Why `address` is not a dialable `host:port`, or null when it is. */
export function addressProblem(address: string): string | null {
  if (address.length > MANAGER_LIMITS.addressChars) return `address of ${address.length} characters is too long`;
  const colon = address.lastIndexOf(':');
  const host = colon > 0 ? address.slice(0, colon) : '';
  const port = colon > 0 ? address.slice(colon + 1) : '';
  if (!HOST.test(host) || !/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) {
    return `"${clip(address)}" is not host:port (e.g. 10.0.0.1:8002)`;
  }
  if (UNSPECIFIED_HOSTS.has(host)) return `"${clip(address)}" is not an address peers can dial; announce the host's own address`;
  return null;
}

export function idcProblem(idc: string): string | null {
  if (idc.length > MANAGER_LIMITS.idcChars) return `idc of ${idc.length} characters is over the ${MANAGER_LIMITS.idcChars}-character limit`;
  if (idc !== '' && !NAME.test(idc)) return `idc "${clip(idc)}" may hold only letters, digits, ".", "_" and "-"`;
  return null;
}

export function locationProblem(location: string): string | null {
  if (location === '') return null;
  const segments = location.split('|');
  if (segments.length > MANAGER_LIMITS.locationSegments) {
    return `location has ${segments.length} levels; at most ${MANAGER_LIMITS.locationSegments} are allowed`;
  }
  for (const segment of segments) {
    if (segment.length === 0 || segment.length > MANAGER_LIMITS.locationSegmentChars || !NAME.test(segment)) {
      return `location "${clip(location)}" must be levels of letters, digits, ".", "_" or "-" (at most ` +
        `${MANAGER_LIMITS.locationSegmentChars} each) joined by "|", widest first, e.g. cn|hangzhou|rack-7`;
    }
  }
  return null;
}

/** A supernode's announcement (or heartbeat), from a request body. */
export function decodeAnnounce(text: unknown): Decoded<AnnounceMsg> {
  return guarded(text, (input) => {
    const address = read(input, 'address', (v, path) => checked(str(v, path, MANAGER_LIMITS.addressChars), path, addressProblem));
    const idc = readOptional(input, 'idc', '', (v, path) => checked(str(v, path, MANAGER_LIMITS.idcChars), path, idcProblem));
    const location = readOptional(input, 'location', '', (v, path) => checked(str(v, path, 2048), path, locationProblem));
    const load = readOptional<number | null>(input, 'load', null, (v, path) => (v === null ? null : whole(v, path, 0, MANAGER_LIMITS.load)));
    return { address, idc, location, load };
  });
}

/** A client's query (`?idc=&location=`; absent parameters are ''). */
export function decodeChooseQuery(idc: string | null, location: string | null): Decoded<ChooseQuery> {
  const problem = idcProblem(idc ?? '') ?? locationProblem(location ?? '');
  if (problem) return failed(problem.startsWith('idc') ? '$.idc' : '$.location', problem);
  return { ok: true, msg: { idc: idc ?? '', location: location ?? '' } };
}

export function decodeAnnounceReply(text: unknown): Decoded<AnnounceReply> {
  return guarded(text, (input) => ({
    ttlMs: read(input, 'ttlMs', (v, path) => whole(v, path, 1, MANAGER_LIMITS.ttlMs)),
    heartbeatIntervalMs: read(input, 'heartbeatIntervalMs', (v, path) => whole(v, path, 1, MANAGER_LIMITS.ttlMs)),
  }));
}

/** The manager's answer to a query; every listed address must be dialable. */
export function decodeChooseAnswer(text: unknown): Decoded<ChooseAnswer> {
  return guarded(text, (input) => {
    const supernodes = read(input, 'supernodes', (v, path) => {
      if (!Array.isArray(v)) throw new Failure(path, 'expected an array');
      if (v.length > MANAGER_LIMITS.supernodes) throw new Failure(path, `${v.length} entries; at most ${MANAGER_LIMITS.supernodes}`);
      return v.map((item: unknown, i) => supernodeInfo(plain(item, `${path}[${i}]`)));
    });
    const assigned = read(input, 'assigned', (v, path) => (v === null ? null : checked(str(v, path, MANAGER_LIMITS.addressChars), path, addressProblem)));
    if (assigned !== null && supernodes[0]?.address !== assigned) {
      throw new Failure('$.assigned', 'the assigned supernode must come first in the list');
    }
    return { assigned, supernodes };
  });
}

function supernodeInfo(input: Fields): SupernodeInfo {
  return {
    address: read(input, 'address', (v, path) => checked(str(v, path, MANAGER_LIMITS.addressChars), path, addressProblem)),
    idc: readOptional(input, 'idc', '', (v, path) => checked(str(v, path, MANAGER_LIMITS.idcChars), path, idcProblem)),
    location: readOptional(input, 'location', '', (v, path) => checked(str(v, path, 2048), path, locationProblem)),
  };
}

// ---- readers: each throws a Failure, which `guarded` turns into a decode-error ----

interface Fields { value: object; path: string }

class Failure {
  constructor(readonly path: string, readonly message: string) {}
}

function failed(path: string, message: string): { ok: false; error: { kind: 'decode-error'; path: string; message: string } } {
  return { ok: false, error: { kind: 'decode-error', path, message } };
}

function guarded<T>(text: unknown, decode: (input: Fields) => T): Decoded<T> {
  const parsed = parseJsonSafe(text, 1024 * 1024);
  if (!parsed.ok) return parsed;
  try {
    return { ok: true, msg: decode(plain(parsed.msg, '$')) };
  } catch (err) {
    if (err instanceof Failure) return failed(err.path, err.message);
    return failed('$', 'input could not be read; send plain JSON');
  }
}

function plain(value: unknown, path: string): Fields {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Failure(path, 'expected an object');
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) throw new Failure(path, 'expected a plain object');
  return { value, path };
}

function read<T>(input: Fields, key: string, parse: (value: unknown, path: string) => T): T {
  const found = Object.getOwnPropertyDescriptor(input.value, key);
  const path = `${input.path}.${key}`;
  if (found === undefined) throw new Failure(path, 'missing');
  if (!('value' in found)) throw new Failure(path, 'accessor properties are not accepted');
  return parse(found.value, path);
}

function readOptional<T>(input: Fields, key: string, fallback: T, parse: (value: unknown, path: string) => T): T {
  return Object.getOwnPropertyDescriptor(input.value, key) === undefined ? fallback : read(input, key, parse);
}

function str(value: unknown, path: string, maxChars: number): string {
  if (typeof value !== 'string') throw new Failure(path, 'expected a string');
  if (value.length > maxChars) throw new Failure(path, `${value.length} characters; at most ${maxChars}`);
  return value;
}

function whole(value: unknown, path: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new Failure(path, `expected a whole number from ${min} to ${max}`);
  }
  return value + 0;
}

function checked(value: string, path: string, problemOf: (value: string) => string | null): string {
  const problem = problemOf(value);
  if (problem) throw new Failure(path, problem);
  return value;
}

function clip(text: string): string {
  return text.length > 64 ? `${text.slice(0, 64)}...` : text;
}
