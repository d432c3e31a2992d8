/**
 * Container image manifests, as a preheat reads them from a registry: an image manifest (OCI or
 * Docker v2 schema 2) names a config blob and layer blobs; an index (OCI image index or Docker
 * manifest list) names one manifest per platform. Decoding is strict and bounded — the answer
 * comes from a registry the supernode does not control — and keeps only what a preheat needs.
 *
 * Which manifests of an index are preheated is decided here: those whose platform matches one
 * asked for (`linux/arm64` matches any variant, `linux/arm/v7` only v7), or, when none is asked
 * for, every platform but `unknown/unknown` (the attestation manifests build tools attach, which
 * no engine pulls). Layers with `urls` (foreign, non-distributable layers) live outside the
 * registry and are skipped.
 */
import { parseJsonSafe, type Decoded } from './decode.ts';
import type { Platform } from './preheat-api.ts';

export const MANIFEST_LIMITS = Object.freeze({
  /** Largest manifest body read (registries cap them at 4 MiB). */
  bodyBytes: 4 * 1024 * 1024,
  manifestsPerIndex: 256,
  layersPerManifest: 1024,
});

export const INDEX_MEDIA_TYPES = ['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json'];
export const IMAGE_MEDIA_TYPES = ['application/vnd.oci.image.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v2+json'];
/** What a preheat asks a registry for, most specific first. */
export const MANIFEST_ACCEPT = [...INDEX_MEDIA_TYPES, ...IMAGE_MEDIA_TYPES].join(', ');

export interface BlobRef { digest: string; sizeBytes: number }

export type Manifest =
  | { kind: 'index'; manifests: (BlobRef & { platform: Platform | null })[] }
  | { kind: 'image'; config: BlobRef; layers: BlobRef[] };

const DIGEST = /^sha256:[0-9a-f]{64}$/;

/**
 * A manifest body; `contentType` is the registry's Content-Type (the body's own `mediaType`
 * wins, and a body with neither is told apart by its `manifests` or `layers` field).
 */
export function decodeManifest(text: unknown, contentType: string | null): Decoded<Manifest> {
  const parsed = parseJsonSafe(text, MANIFEST_LIMITS.bodyBytes);
  if (!parsed.ok) return parsed;
  const body = parsed.msg as Record<string, unknown>;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return failed('$', 'a manifest is a JSON object');
  const mediaType = typeof body.mediaType === 'string' ? body.mediaType : (contentType ?? '').split(';')[0].trim();
  const isIndex = INDEX_MEDIA_TYPES.includes(mediaType) || (!IMAGE_MEDIA_TYPES.includes(mediaType) && Array.isArray(body.manifests));
  if (!isIndex && !IMAGE_MEDIA_TYPES.includes(mediaType) && !Array.isArray(body.layers)) {
    return failed('$.mediaType', `"${mediaType.slice(0, 100)}" is neither an image manifest nor an index (schema 1 images are not supported)`);
  }
  return isIndex ? decodeIndex(body.manifests) : decodeImage(body.config, body.layers);
}

function decodeIndex(manifests: unknown): Decoded<Manifest> {
  if (!Array.isArray(manifests)) return failed('$.manifests', 'expected an array');
  if (manifests.length > MANIFEST_LIMITS.manifestsPerIndex) return failed('$.manifests', `${manifests.length} entries; at most ${MANIFEST_LIMITS.manifestsPerIndex}`);
  const out: (BlobRef & { platform: Platform | null })[] = [];
  for (const [i, entry] of manifests.entries()) {
    const blob = blobRef(entry, `$.manifests[${i}]`);
    if (!blob.ok) return blob;
    const platform = platformOf((entry as { platform?: unknown }).platform);
    out.push({ ...blob.msg, platform });
  }
  return { ok: true, msg: { kind: 'index', manifests: out } };
}

function decodeImage(config: unknown, layers: unknown): Decoded<Manifest> {
  const configRef = blobRef(config, '$.config');
  if (!configRef.ok) return configRef;
  if (!Array.isArray(layers)) return failed('$.layers', 'expected an array');
  if (layers.length > MANIFEST_LIMITS.layersPerManifest) return failed('$.layers', `${layers.length} layers; at most ${MANIFEST_LIMITS.layersPerManifest}`);
  const out: BlobRef[] = [];
  for (const [i, layer] of layers.entries()) {
    if (typeof layer === 'object' && layer !== null && Array.isArray((layer as { urls?: unknown }).urls)) continue;
    const ref = blobRef(layer, `$.layers[${i}]`);
    if (!ref.ok) return ref;
    out.push(ref.msg);
  }
  return { ok: true, msg: { kind: 'image', config: configRef.msg, layers: out } };
}

function blobRef(value: unknown, path: string): Decoded<BlobRef> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return failed(path, 'expected an object with digest and size');
  const { digest, size } = value as { digest?: unknown; size?: unknown };
  if (typeof digest !== 'string' || !DIGEST.test(digest)) return failed(`${path}.digest`, 'expected sha256:<64 hex digits> (only sha256 blobs are preheated)');
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) return failed(`${path}.size`, 'expected a whole number of bytes');
  return { ok: true, msg: { digest, sizeBytes: size } };
}

function platformOf(value: unknown): Platform | null {
  if (typeof value !== 'object' || value === null) return null;
  const { os, architecture, variant } = value as { os?: unknown; architecture?: unknown; variant?: unknown };
  if (typeof os !== 'string' || typeof architecture !== 'string') return null;
  return { os: os.slice(0, 64), architecture: architecture.slice(0, 64), ...(typeof variant === 'string' ? { variant: variant.slice(0, 64) } : {}) };
}

/** Digests of the index's manifests to preheat for `wanted` (null = every runnable platform). */
export function selectManifests(index: Extract<Manifest, { kind: 'index' }>, wanted: readonly Platform[] | null): string[] {
  const chosen = index.manifests.filter(({ platform }) => {
    if (wanted === null) return platform === null || !(platform.os === 'unknown' && platform.architecture === 'unknown');
    return platform !== null && wanted.some((w) => w.os === platform.os && w.architecture === platform.architecture
      && (w.variant === undefined || w.variant === platform.variant));
  });
  return [...new Set(chosen.map((m) => m.digest))];
}

/** The blobs a pull of this image manifest fetches: its config, then its layers (each once). */
export function imageBlobs(image: Extract<Manifest, { kind: 'image' }>): BlobRef[] {
  const seen = new Set<string>();
  return [image.config, ...image.layers].filter((blob) => !seen.has(blob.digest) && seen.add(blob.digest));
}

function failed(path: string, message: string): { ok: false; error: { kind: 'decode-error'; path: string; message: string } } {
  return { ok: false, error: { kind: 'decode-error', path, message } };
}
