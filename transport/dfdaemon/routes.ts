/**
 * Which upstream registry a mirror request is for, and whether it is a layer blob that travels
 * P2P. Pure: the server asks `classify` about every request before touching the network.
 *
 * A client with one mirror entry per registry (`127.0.0.1:65001/registry.example:5000`) sends
 * `/v2/registry.example:5000/<repo>/...`; a first path segment naming a configured registry host
 * selects that upstream and is stripped. Anything else goes to the default `--registry`.
 *
 * Only `GET /v2/<name>/blobs/sha256:<hex>` goes P2P: a blob is content-addressed, so any copy is
 * as good as the registry's once its digest checks out. Manifests, tags, `/v2/` (the auth
 * challenge) and uploads pass through unchanged.
 */

/** distribution's repository name grammar: lowercase components joined by `/`. */
const NAME_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const MAX_NAME_CHARS = 255;
const SHA256_DIGEST = /^sha256:[0-9a-f]{64}$/;
/** Other algorithms the OCI spec registers; well formed ones pass through untouched. */
const OTHER_DIGEST = /^sha512:[0-9a-f]{128}$/;

export type Route =
  /** A layer (or config) blob fetched through P2P (GET) or answered from the upstream (HEAD). */
  | { kind: 'blob'; upstream: string; name: string; digest: string; upstreamPath: string }
  /** Everything else: forwarded as is to `upstreamPath` on `upstream`. */
  | { kind: 'pass'; upstream: string; upstreamPath: string }
  /** A registry-style error the mirror answers itself. */
  | { kind: 'error'; status: number; code: string; message: string }
  /** The mirror's own health check (`GET /healthz`). */
  | { kind: 'health' }
  /** Counters in Prometheus text format (`GET /metrics`). */
  | { kind: 'metrics' }
  /** `/v2/` when no default upstream exists: answered locally so clients accept the mirror. */
  | { kind: 'api-version' };

/**
 * `upstreams` maps a registry host (`registry.example:5000`) to its key in the server's upstream
 * table; `defaultUpstream` is that key for requests naming no configured host (null when only
 * prefixed registries are configured).
 */
export interface RouteTable {
  upstreamsByHost: ReadonlyMap<string, string>;
  defaultUpstream: string | null;
}

export function classify(method: string, rawUrl: string, table: RouteTable): Route {
  const queryAt = rawUrl.indexOf('?');
  const path = queryAt < 0 ? rawUrl : rawUrl.slice(0, queryAt);
  const query = queryAt < 0 ? '' : rawUrl.slice(queryAt);
  if (path === '/healthz' && (method === 'GET' || method === 'HEAD')) return { kind: 'health' };
  if (path === '/metrics' && method === 'GET') return { kind: 'metrics' };
  if (path !== '/v2' && !path.startsWith('/v2/')) {
    return registryError(404, 'NOT_FOUND', `dfdaemon mirrors the registry API under /v2/ only, not ${path.slice(0, 100)}`);
  }
  const segments = path.split('/').slice(2);
  // URL resolution would turn these into other paths on the upstream (`\` counts as `/` there).
  if (segments.some((s) => s === '.' || s === '..' || s.includes('%') || s.includes('\\'))) {
    return registryError(400, 'NAME_INVALID', 'path segments may not be "." or "..", percent-encoded or hold a backslash');
  }
  let upstream = table.defaultUpstream;
  const selected = segments.length > 1 ? table.upstreamsByHost.get(segments[0]) : undefined;
  if (selected !== undefined) {
    upstream = selected;
    segments.shift();
  }
  if (upstream === null) {
    if (path === '/v2' || path === '/v2/') return { kind: 'api-version' };
    return registryError(404, 'NAME_UNKNOWN',
      `no upstream registry for ${segments[0] ?? '/v2/'}: start dfdaemon with --registry, or list the host under registries in --config`);
  }
  const upstreamPath = '/v2/' + segments.join('/');
  const blobsAt = segments.lastIndexOf('blobs');
  const isBlobRead = (method === 'GET' || method === 'HEAD') && blobsAt >= 1 && blobsAt === segments.length - 2;
  if (!isBlobRead) return { kind: 'pass', upstream, upstreamPath: upstreamPath + query };
  const name = segments.slice(0, blobsAt).join('/');
  const reference = segments[blobsAt + 1];
  if (!validName(name)) return registryError(400, 'NAME_INVALID', `invalid repository name "${name.slice(0, 100)}"`);
  // A blob read has no meaningful query (containerd adds `?ns=<registry>`): dropping it keeps one
  // task, and one cached copy, per blob whichever client asks.
  if (SHA256_DIGEST.test(reference)) return { kind: 'blob', upstream, name, digest: reference, upstreamPath };
  if (OTHER_DIGEST.test(reference)) return { kind: 'pass', upstream, upstreamPath: upstreamPath + query };
  return registryError(400, 'DIGEST_INVALID',
    `invalid blob digest "${reference.slice(0, 100)}": expected sha256: followed by 64 lowercase hex digits`);
}

export function validName(name: string): boolean {
  return name.length > 0 && name.length <= MAX_NAME_CHARS && name.split('/').every((c) => NAME_COMPONENT.test(c));
}

function registryError(status: number, code: string, message: string): Route {
  return { kind: 'error', status, code, message };
}

/** The body distribution sends with an error status, so clients print it like a registry's own. */
export function registryErrorBody(code: string, message: string): string {
  return JSON.stringify({ errors: [{ code, message, detail: null }] });
}
