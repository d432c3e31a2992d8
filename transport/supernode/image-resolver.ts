/**
 * Finds the blobs of an image for a preheat: reads its manifest from the registry (and, for an
 * index, the manifest of each platform the core's `selectManifests` picks) and returns the
 * config and layer blobs a pull fetches, with the `Authorization` that worked, so the CDN fetches
 * each blob as a client with those credentials would.
 *
 * Registry auth as engines do it: the request's own headers, or Basic credentials; a 401 with a
 * `Bearer` challenge is answered by asking the challenge's realm for a token (with the Basic
 * credentials when given) and asking again once. A manifest fetched by digest must hash to it.
 * Every request has a timeout and every body a size limit; errors say what the registry answered.
 */
import { createHash } from 'node:crypto';
import { decodeManifest, imageBlobs, MANIFEST_ACCEPT, MANIFEST_LIMITS, selectManifests, type BlobRef, type Manifest } from '../../core/image-manifest.ts';
import type { PreheatRequest } from '../../core/preheat-api.ts';

export type ImageRequest = Extract<PreheatRequest, { kind: 'image' }>;

export interface ResolvedImage {
  /** Config and layers of every chosen manifest, each once. */
  blobs: BlobRef[];
  /** `Authorization` the registry accepted (null: none needed). */
  authorization: string | null;
}

const REQUEST_TIMEOUT_MS = 30_000;
const TOKEN_BODY_BYTES = 64 * 1024;

export class RegistryError extends Error {}

export async function resolveImage(req: ImageRequest, signal?: AbortSignal): Promise<ResolvedImage> {
  const client = new RegistryClient(req, signal);
  const reference = req.reference.kind === 'tag' ? req.reference.tag : req.reference.digest;
  const top = await client.manifest(reference, req.reference.kind === 'digest' ? req.reference.digest : null);
  const images = top.kind === 'image' ? [top] : await Promise.all(selectManifests(top, req.platforms).map(async (digest) => {
    const manifest = await client.manifest(digest, digest);
    if (manifest.kind !== 'image') throw new RegistryError(`manifest ${digest} of the index is an index itself; nested indexes are not preheated`);
    return manifest;
  }));
  const seen = new Set<string>();
  const blobs = images.flatMap(imageBlobs).filter((blob) => !seen.has(blob.digest) && seen.add(blob.digest));
  return { blobs, authorization: client.authorization };
}

/** The URL dfdaemon asks its supernode for when a client pulls this blob (the same task). */
export function blobUrl(registry: string, repository: string, digest: string): string {
  return `${registry}/v2/${repository}/blobs/${digest}`;
}

class RegistryClient {
  authorization: string | null;
  private readonly otherHeaders: Record<string, string>;
  private triedToken = false;

  constructor(private readonly req: ImageRequest, private readonly signal?: AbortSignal) {
    const isAuth = ([name]: [string, string]): boolean => name.toLowerCase() === 'authorization';
    this.otherHeaders = Object.fromEntries(Object.entries(req.headers).filter((h) => !isAuth(h)));
    this.authorization = Object.entries(req.headers).find(isAuth)?.[1] ?? (req.credentials ? basic(req.credentials) : null);
  }

  /** The manifest at `reference`; when `digest` is given the body must hash to it. */
  async manifest(reference: string, digest: string | null): Promise<Manifest> {
    const url = `${this.req.registry}/v2/${this.req.repository}/manifests/${reference}`;
    const res = await this.get(url, { accept: MANIFEST_ACCEPT });
    const body = await readLimited(res, MANIFEST_LIMITS.bodyBytes, url);
    if (res.status !== 200) throw new RegistryError(`the registry answered HTTP ${res.status} to ${url}: ${errorText(body)}`);
    if (digest !== null && `sha256:${createHash('sha256').update(body).digest('hex')}` !== digest) {
      throw new RegistryError(`the manifest at ${url} does not hash to ${digest}`);
    }
    const decoded = decodeManifest(body.toString('utf8'), res.headers.get('content-type'));
    if (!decoded.ok) throw new RegistryError(`the manifest at ${url} is not usable: ${decoded.error.path}: ${decoded.error.message}`);
    return decoded.msg;
  }

  /** GET with the current credentials; one token exchange on a Bearer challenge. */
  private async get(url: string, headers: Record<string, string>): Promise<Response> {
    for (;;) {
      const res = await send(url, { ...this.otherHeaders, ...headers, ...(this.authorization ? { authorization: this.authorization } : {}) }, this.signal);
      const challenge = res.headers.get('www-authenticate') ?? '';
      if (res.status !== 401 || this.triedToken || !/^bearer\s/i.test(challenge)) {
        if (res.status === 401 && !this.authorization) {
          await res.body?.cancel();
          throw new RegistryError(`the registry wants credentials for ${url}; give username and password (or an Authorization header)`);
        }
        return res;
      }
      await res.body?.cancel();
      this.triedToken = true;
      this.authorization = `Bearer ${await this.token(challenge)}`;
    }
  }

  private async token(challenge: string): Promise<string> {
    const params = new Map([...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1].toLowerCase(), m[2]]));
    const realm = params.get('realm');
    if (!realm || !/^https?:\/\//.test(realm)) throw new RegistryError(`the registry's Bearer challenge names no usable token realm (${challenge.slice(0, 200)})`);
    const url = new URL(realm);
    for (const key of ['service', 'scope']) if (params.has(key)) url.searchParams.set(key, params.get(key)!);
    const res = await send(url.href, this.req.credentials ? { authorization: basic(this.req.credentials) } : {}, this.signal);
    const body = await readLimited(res, TOKEN_BODY_BYTES, url.href);
    if (res.status !== 200) throw new RegistryError(`the token server ${url.origin} answered HTTP ${res.status}: ${errorText(body)}; check username and password`);
    let token: unknown;
    try {
      const parsed = JSON.parse(body.toString('utf8')) as { token?: unknown; access_token?: unknown };
      token = parsed.token ?? parsed.access_token;
    } catch {
      token = undefined;
    }
    if (typeof token !== 'string' || token.length === 0 || token.length > 16 * 1024 || /[\r\n]/.test(token)) {
      throw new RegistryError(`the token server ${url.origin} sent no usable token`);
    }
    return token;
  }
}

async function send(url: string, headers: Record<string, string>, signal?: AbortSignal): Promise<Response> {
  const timeout = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
  try {
    return await fetch(url, { headers, redirect: 'follow', signal: signal ? AbortSignal.any([signal, timeout]) : timeout });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
    throw new RegistryError(`cannot reach ${new URL(url).origin} (${cause}); check the registry address`);
  }
}

/** The body, refused past `limitBytes` without reading the rest. */
async function readLimited(res: Response, limitBytes: number, url: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  const reader = res.body?.getReader();
  if (!reader) return Buffer.alloc(0);
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > limitBytes) {
      await reader.cancel();
      throw new RegistryError(`the answer from ${url} is over ${limitBytes} bytes`);
    }
    chunks.push(Buffer.from(value));
  }
  return Buffer.concat(chunks);
}

function basic(creds: { username: string; password: string }): string {
  return `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
}

function errorText(body: Buffer): string {
  return body.toString('utf8').slice(0, 300).replace(/\s+/g, ' ');
}
