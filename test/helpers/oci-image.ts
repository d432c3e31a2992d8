/**
 * Builds a small OCI image with umoci (one layer per requested size, each a tar holding random
 * bytes so gzip cannot shrink it) and pushes it to a registry with skopeo. Also wraps
 * `skopeo copy docker://... dir:...` through a registries.conf mirror entry, the way a real
 * client meets dfdaemon.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from './registry.ts';

export interface BlobInfo { digest: string; sizeBytes: number }

export interface OciImage {
  layoutDir: string;
  tag: string;
  manifestDigest: string;
  config: BlobInfo;
  layers: BlobInfo[];
}

/** Every blob a pull of this image fetches (layers first, then the config). */
export function imageBlobs(image: OciImage): BlobInfo[] {
  return [...image.layers, image.config];
}

export async function buildImage(workDir: string, layerSizesBytes: number[], tag = 'v1'): Promise<OciImage> {
  const layoutDir = join(workDir, 'layout');
  await run('umoci', ['init', '--layout', layoutDir]);
  await run('umoci', ['new', '--image', `${layoutDir}:${tag}`]);
  for (const [i, sizeBytes] of layerSizesBytes.entries()) {
    const rootDir = join(workDir, `layer${i}`);
    await mkdir(join(rootDir, 'data'), { recursive: true });
    await writeFile(join(rootDir, 'data', `blob${i}.bin`), randomBytes(sizeBytes));
    const tarPath = join(workDir, `layer${i}.tar`);
    await run('tar', ['-C', rootDir, '-cf', tarPath, 'data']);
    await run('umoci', ['raw', 'add-layer', '--image', `${layoutDir}:${tag}`, tarPath]);
  }
  const index = JSON.parse(await readFile(join(layoutDir, 'index.json'), 'utf8')) as {
    manifests: { digest: string; annotations?: Record<string, string> }[];
  };
  const entry = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag);
  if (!entry) throw new Error(`umoci left no manifest tagged ${tag} in ${layoutDir}`);
  const manifest = JSON.parse(await readFile(blobPath(layoutDir, entry.digest), 'utf8')) as {
    config: { digest: string; size: number };
    layers: { digest: string; size: number }[];
  };
  return {
    layoutDir, tag, manifestDigest: entry.digest,
    config: { digest: manifest.config.digest, sizeBytes: manifest.config.size },
    layers: manifest.layers.map((l) => ({ digest: l.digest, sizeBytes: l.size })),
  };
}

/** Throws naming the first blob of `image` that a `skopeo copy ... dir:DEST` result lacks or holds different bytes for. */
export async function assertPulledBlobsMatch(image: OciImage, destDir: string): Promise<void> {
  for (const blob of imageBlobs(image)) {
    const [, hex] = blob.digest.split(':');
    let pulled: Buffer;
    try {
      pulled = await readFile(join(destDir, hex));
    } catch {
      throw new Error(`pull into ${destDir} lacks blob ${blob.digest}`);
    }
    if (!pulled.equals(await readFile(blobPath(image.layoutDir, blob.digest)))) {
      throw new Error(`blob ${blob.digest} pulled into ${destDir} differs from the pushed one`);
    }
  }
}

export function blobPath(layoutDir: string, digest: string): string {
  const [algorithm, hex] = digest.split(':');
  return join(layoutDir, 'blobs', algorithm, hex);
}

export interface Credentials { username: string; password: string }

/** Pushes to `docker://HOSTPORT/REPO:TAG`; TLS is not verified (test registries are self-signed). */
export async function pushImage(image: OciImage, destRef: string, creds?: Credentials): Promise<void> {
  const args = ['copy', '--quiet', '--dest-tls-verify=false'];
  if (creds) args.push('--dest-creds', `${creds.username}:${creds.password}`);
  args.push(`oci:${image.layoutDir}:${image.tag}`, `docker://${destRef}`);
  await run('skopeo', args);
}

/** The registry tests' image: three layers (9 MiB spans three 4 MiB pieces, so a layer really is split and reassembled). */
export const TEST_LAYER_SIZES = [9 * 1024 * 1024, 2 * 1024 * 1024, 200 * 1024];

/** Build an image of `layerSizesBytes`, push it as `<registryHostPort>/test/app:v1`, and list its blobs and their total size. */
export async function pushedTestImage(workDir: string, registryHostPort: string, layerSizesBytes = TEST_LAYER_SIZES):
  Promise<{ image: OciImage; blobs: BlobInfo[]; imageBytes: number }> {
  const image = await buildImage(workDir, layerSizesBytes);
  await pushImage(image, `${registryHostPort}/test/app:v1`);
  const blobs = imageBlobs(image);
  return { image, blobs, imageBytes: blobs.reduce((sum, b) => sum + b.sizeBytes, 0) };
}

/**
 * A registries.conf that sends pulls of `registryHostPort` to the mirror first. `mirrorLocation`
 * may carry a path prefix (`127.0.0.1:65001/registry.example:5000`) for multi-registry mirrors.
 */
export async function writeRegistriesConf(path: string, entries: { registryHostPort: string; mirrorLocation: string }[]): Promise<void> {
  const text = entries.map((e) => [
    '[[registry]]',
    `location = "${e.registryHostPort}"`,
    'insecure = true',
    '[[registry.mirror]]',
    `location = "${e.mirrorLocation}"`,
    'insecure = true',
  ].join('\n')).join('\n\n');
  await writeFile(path, text + '\n');
}

/**
 * An auth.json (the containers-auth.json format) giving `creds` for each location. skopeo 1.9
 * looks credentials up by the mirror's own location, never passing `--src-creds` to a mirror,
 * so a pull through dfdaemon needs an entry for the mirror location too.
 */
export async function writeAuthFile(path: string, creds: Credentials, locations: string[]): Promise<void> {
  const auth = Buffer.from(`${creds.username}:${creds.password}`).toString('base64');
  const auths = Object.fromEntries(locations.map((location) => [location, { auth }]));
  await writeFile(path, JSON.stringify({ auths }, null, 2) + '\n');
}

/**
 * `skopeo copy docker://REF dir:DEST` using the given registries.conf (and auth.json). skopeo
 * tries the mirror first and the registry itself after, so callers that must prove the mirror
 * served the pull point the registry entry at an address where a silent fallback is impossible.
 */
export async function pullThroughMirror(registriesConf: string, srcRef: string, destDir: string, authFile?: string): Promise<void> {
  const args = ['--registries-conf', registriesConf, 'copy', '--quiet', '--src-tls-verify=false', '--retry-times', '0'];
  if (authFile) args.push('--authfile', authFile);
  args.push(`docker://${srcRef}`, `dir:${destDir}`);
  await run('skopeo', args);
}
