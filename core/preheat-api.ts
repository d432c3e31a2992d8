/**
 * The preheat API as data, and the decoder the supernode runs on every request body before
 * anything acts on it (anyone who reaches the supernode's port can send one). The decoder never
 * throws: it returns a request holding only the fields defined here, or a `decode-error` naming
 * the first bad field. Every string, list and map is bounded; only own data properties of plain
 * objects are read.
 *
 *   POST /preheat      body PreheatBody                 -> 202 { id, state } (Location: /preheat/<id>)
 *   GET  /preheat/<id>                                  -> 200 PreheatJobView (core/preheat.ts)
 *
 *   { "type": "file", "url": "https://host/big.iso", "headers": { "Authorization": "..." },
 *     "digest": "sha256:<hex>", "identifier": "..." }             (headers, digest, identifier optional)
 *   { "type": "image", "registry": "https://registry.example:5000", "repository": "team/app",
 *     "tag": "v1" | "digest": "sha256:<hex>", "username": "u", "password": "p",
 *     "headers": { "Authorization": "Bearer ..." }, "platforms": ["linux/amd64", "linux/arm/v7"] }
 *
 * A file is fetched into the CDN as a download of that URL (with those headers, digest and
 * identifier) would be, so a later download of it is one task with the preheated one. An image is
 * fetched blob by blob — config and layers of its manifest, or of each manifest of an index whose
 * platform is asked for (all when `platforms` is absent) — each as the task dfdaemon makes of that
 * blob (`<registry>/v2/<repository>/blobs/<digest>` with the blob's digest).
 */
import { parseJsonSafe, type Decoded } from './decode.ts';

export const PREHEAT_PATH = '/preheat';

export const PREHEAT_LIMITS = Object.freeze({
  /** Largest request body read. */
  bodyBytes: 64 * 1024,
  urlChars: 4096,
  headers: 32,
  headerNameChars: 256,
  headerValueChars: 8192,
  identifierChars: 1024,
  repositoryChars: 255,
  credentialChars: 1024,
  platforms: 16,
});

export interface Platform { os: string; architecture: string; variant?: string }

export type ImageReference = { kind: 'tag'; tag: string } | { kind: 'digest'; digest: string };

export type PreheatRequest =
  | { kind: 'file'; url: string; headers: Record<string, string>; digest?: string; identifier?: string }
  | {
      kind: 'image';
      /** `http(s)://host[:port]`, no path. */
      registry: string;
      repository: string;
      reference: ImageReference;
      /** Basic credentials, sent as is or traded for a bearer token when the registry asks for one. */
      credentials: { username: string; password: string } | null;
      headers: Record<string, string>;
      /** null = every platform of an index. */
      platforms: Platform[] | null;
    };

const DIGEST = /^sha256:[0-9a-f]{64}$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
/** distribution's repository name grammar (path components of lower-case alphanumerics and separators). */
const REPOSITORY = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const PLATFORM_PART = /^[a-z0-9_.-]{1,32}$/;

/** A request body (JSON text) as a typed request, or the first bad field. */
export function decodePreheatRequest(text: unknown): Decoded<PreheatRequest> {
  const parsed = parseJsonSafe(text, PREHEAT_LIMITS.bodyBytes);
  if (!parsed.ok) return parsed;
  try {
    const body = plain(parsed.msg, '$');
    const type = read(body, 'type', (v, path) => oneOf(v, path, ['file', 'image'] as const));
    return { ok: true, msg: type === 'file' ? fileRequest(body) : imageRequest(body) };
  } catch (err) {
    if (err instanceof Failure) return { ok: false, error: { kind: 'decode-error', path: err.path, message: err.message } };
    return { ok: false, error: { kind: 'decode-error', path: '$', message: 'the body could not be read; send plain JSON' } };
  }
}

/** `os/architecture[/variant]`, e.g. `linux/arm64` or `linux/arm/v7`. */
export function parsePlatform(text: string): Platform | string {
  const parts = text.split('/');
  if (parts.length < 2 || parts.length > 3 || !parts.every((p) => PLATFORM_PART.test(p))) {
    return `"${text.slice(0, 80)}" is not os/architecture[/variant], e.g. linux/amd64 or linux/arm/v7`;
  }
  return { os: parts[0], architecture: parts[1], ...(parts[2] !== undefined ? { variant: parts[2] } : {}) };
}

export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, ...(p.variant ? [p.variant] : [])].join('/');
}

function fileRequest(body: Fields): PreheatRequest {
  const url = read(body, 'url', (v, path) => httpUrl(v, path));
  const headers = optional(body, 'headers', {}, headerMap);
  const digest = optional<string | undefined>(body, 'digest', undefined, digestOf);
  const identifier = optional<string | undefined>(body, 'identifier', undefined, (v, path) => str(v, path, PREHEAT_LIMITS.identifierChars, 1));
  return { kind: 'file', url, headers, ...(digest ? { digest } : {}), ...(identifier ? { identifier } : {}) };
}

function imageRequest(body: Fields): PreheatRequest {
  const registry = read(body, 'registry', (v, path) => {
    const url = new URL(httpUrl(v, path));
    if (url.pathname !== '/' || url.search !== '' || url.username !== '') {
      throw new Failure(path, 'must be scheme, host and port only, e.g. https://registry.example:5000');
    }
    return url.origin;
  });
  const repository = read(body, 'repository', (v, path) => {
    const name = str(v, path, PREHEAT_LIMITS.repositoryChars, 1);
    if (!REPOSITORY.test(name)) throw new Failure(path, `"${name.slice(0, 80)}" is not a repository name (lower-case path components, e.g. team/app)`);
    return name;
  });
  const tag = optional<string | undefined>(body, 'tag', undefined, (v, path) => {
    const t = str(v, path, 128, 1);
    if (!TAG.test(t)) throw new Failure(path, `"${t.slice(0, 80)}" is not a tag`);
    return t;
  });
  const digest = optional<string | undefined>(body, 'digest', undefined, digestOf);
  if ((tag === undefined) === (digest === undefined)) throw new Failure('$.tag', 'give either tag or digest of the image');
  const username = optional<string | undefined>(body, 'username', undefined, (v, path) => str(v, path, PREHEAT_LIMITS.credentialChars, 1));
  const password = optional<string | undefined>(body, 'password', undefined, (v, path) => str(v, path, PREHEAT_LIMITS.credentialChars, 0));
  if ((username === undefined) !== (password === undefined)) throw new Failure('$.password', 'username and password go together');
  const platforms = optional<Platform[] | null>(body, 'platforms', null, (v, path) => {
    if (!Array.isArray(v) || v.length === 0 || v.length > PREHEAT_LIMITS.platforms) {
      throw new Failure(path, `expected 1 to ${PREHEAT_LIMITS.platforms} platforms such as "linux/amd64"`);
    }
    return v.map((item: unknown, i) => {
      const platform = parsePlatform(str(item, `${path}[${i}]`, 100, 1));
      if (typeof platform === 'string') throw new Failure(`${path}[${i}]`, platform);
      return platform;
    });
  });
  return {
    kind: 'image', registry, repository, reference: tag !== undefined ? { kind: 'tag', tag } : { kind: 'digest', digest: digest! },
    credentials: username !== undefined ? { username, password: password! } : null,
    headers: optional(body, 'headers', {}, headerMap), platforms,
  };
}

// ---- readers: each throws a Failure, which decodePreheatRequest turns into a decode-error ----

interface Fields { value: object; path: string }

class Failure {
  constructor(readonly path: string, readonly message: string) {}
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

function optional<T>(input: Fields, key: string, fallback: T, parse: (value: unknown, path: string) => T): T {
  return Object.getOwnPropertyDescriptor(input.value, key) === undefined ? fallback : read(input, key, parse);
}

function str(value: unknown, path: string, maxChars: number, minChars: number): string {
  if (typeof value !== 'string') throw new Failure(path, 'expected a string');
  if (value.length < minChars || value.length > maxChars) throw new Failure(path, `expected ${minChars} to ${maxChars} characters, got ${value.length}`);
  return value;
}

function oneOf<T extends string>(value: unknown, path: string, choices: readonly T[]): T {
  if (typeof value !== 'string' || !(choices as readonly string[]).includes(value)) throw new Failure(path, `expected one of ${choices.join(', ')}`);
  return value as T;
}

function httpUrl(value: unknown, path: string): string {
  const text = str(value, path, PREHEAT_LIMITS.urlChars, 1);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Failure(path, `"${text.slice(0, 80)}" is not an absolute URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Failure(path, 'only http:// and https:// are fetched');
  return text;
}

function digestOf(value: unknown, path: string): string {
  const digest = str(value, path, 71, 71);
  if (!DIGEST.test(digest)) throw new Failure(path, 'expected sha256:<64 lower-case hex digits>');
  return digest;
}

function headerMap(value: unknown, path: string): Record<string, string> {
  const fields = plain(value, path);
  const names = Object.keys(fields.value);
  if (names.length > PREHEAT_LIMITS.headers) throw new Failure(path, `${names.length} headers; at most ${PREHEAT_LIMITS.headers}`);
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const name of names) {
    const where = `${path}[${JSON.stringify(name.slice(0, 40))}]`;
    if (name.length > PREHEAT_LIMITS.headerNameChars || !HEADER_NAME.test(name)) throw new Failure(where, 'not a valid header name');
    const headerValue = read(fields, name, (v, p) => str(v, p, PREHEAT_LIMITS.headerValueChars, 0));
    if (/[\r\n\0]/.test(headerValue)) throw new Failure(where, 'a header value may not hold CR, LF or NUL');
    out[name] = headerValue;
  }
  return { ...out };
}
