/**
 * Task identity: which downloads are "the same file" and so share one CDN copy and one swarm.
 *
 * The key is the source URL in canonical form (WHATWG URL parsing: lower-case scheme and host, no
 * default port, no fragment), with the query keys the user filters out removed (the seed's
 * `--filter`, e.g. the expiry and signature parameters of a signed URL, which differ on every
 * request for the same object) and the remaining query parameters sorted by key, values of a
 * repeated key keeping their order (as the original's Go `url.Values.Encode` did), so parameter
 * order does not split a swarm. A digest or identifier, when given, is appended: the same URL with
 * a different expected digest is a different task. The taskId is the SHA-256 of this key,
 * computed by the driver (core has no hashing).
 */

export interface TaskKeyInput {
  url: string;
  /** Query keys (exact, case-sensitive) that do not identify the content. */
  filterQueryKeys?: readonly string[];
  /** Expected whole-file digest, `sha256:<hex>`. */
  digest?: string;
  identifier?: string;
}

export type TaskKeyError = { kind: 'task-key-error'; url: string; message: string };

const SOURCE_SCHEMES = new Set(['http:', 'https:']);

/** Canonical key of a task, or a typed error for a URL dragonfly cannot fetch. */
export function taskKey({ url, filterQueryKeys = [], digest, identifier }: TaskKeyInput): string | TaskKeyError {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { kind: 'task-key-error', url, message: `not a valid URL: "${url}"; give an absolute URL such as http://host/path/file` };
  }
  if (!SOURCE_SCHEMES.has(parsed.protocol)) {
    return {
      kind: 'task-key-error', url,
      message: `unsupported URL scheme "${parsed.protocol}" in "${url}"; sources are fetched over http:// or https://`,
    };
  }
  const query = parsed.searchParams;
  for (const key of filterQueryKeys) query.delete(key);
  query.sort();
  parsed.search = query.toString();
  parsed.hash = '';
  // A URL never contains '#' once its fragment is gone, so the suffix cannot be forged by the URL.
  const extras: string[] = [];
  if (digest) extras.push(`digest=${encodeURIComponent(digest)}`);
  if (identifier) extras.push(`identifier=${encodeURIComponent(identifier)}`);
  return extras.length > 0 ? `${parsed.href}#${extras.join('&')}` : parsed.href;
}
