/**
 * A multi-platform image: an OCI image index over one manifest per platform, each with its own
 * layers (built with umoci like oci-image.ts), in one OCI layout, pushed with `skopeo copy --all`.
 */
import { createHash } from 'node:crypto';
import { copyFile, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { blobPath, buildImage, type BlobInfo } from './oci-image.ts';
import { run } from './registry.ts';

const INDEX_MEDIA_TYPE = 'application/vnd.oci.image.index.v1+json';
const MANIFEST_MEDIA_TYPE = 'application/vnd.oci.image.manifest.v1+json';

export interface PlatformImage {
  architecture: string;
  manifest: BlobInfo;
  config: BlobInfo;
  layers: BlobInfo[];
}

export interface OciIndex {
  layoutDir: string;
  tag: string;
  index: BlobInfo;
  platforms: PlatformImage[];
}

/** One image per architecture (layers of the given sizes, random bytes), joined under `tag`. */
export async function buildIndex(workDir: string, platforms: { architecture: string; layerSizesBytes: number[] }[], tag = 'multi'): Promise<OciIndex> {
  const built: PlatformImage[] = [];
  let layoutDir = '';
  for (const [i, platform] of platforms.entries()) {
    const image = await buildImage(join(workDir, `platform${i}`), platform.layerSizesBytes, platform.architecture);
    await run('umoci', ['config', '--image', `${image.layoutDir}:${platform.architecture}`, '--architecture', platform.architecture, '--os', 'linux', '--no-history']);
    const manifest = await taggedManifest(image.layoutDir, platform.architecture);
    const body = JSON.parse(await readFile(blobPath(image.layoutDir, manifest.digest), 'utf8')) as {
      config: { digest: string; size: number }; layers: { digest: string; size: number }[];
    };
    if (i === 0) {
      layoutDir = image.layoutDir;
    } else {
      for (const name of await readdir(join(image.layoutDir, 'blobs', 'sha256'))) {
        await copyFile(join(image.layoutDir, 'blobs', 'sha256', name), join(layoutDir, 'blobs', 'sha256', name));
      }
    }
    built.push({
      architecture: platform.architecture, manifest,
      config: { digest: body.config.digest, sizeBytes: body.config.size },
      layers: body.layers.map((l) => ({ digest: l.digest, sizeBytes: l.size })),
    });
  }
  const indexBytes = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: INDEX_MEDIA_TYPE,
    manifests: built.map((p) => ({
      mediaType: MANIFEST_MEDIA_TYPE, digest: p.manifest.digest, size: p.manifest.sizeBytes, platform: { architecture: p.architecture, os: 'linux' },
    })),
  }));
  const index = { digest: `sha256:${createHash('sha256').update(indexBytes).digest('hex')}`, sizeBytes: indexBytes.length };
  await writeFile(blobPath(layoutDir, index.digest), indexBytes);
  const layoutIndexPath = join(layoutDir, 'index.json');
  const layoutIndex = JSON.parse(await readFile(layoutIndexPath, 'utf8')) as { manifests: unknown[] };
  layoutIndex.manifests.push({ mediaType: INDEX_MEDIA_TYPE, digest: index.digest, size: index.sizeBytes, annotations: { 'org.opencontainers.image.ref.name': tag } });
  await writeFile(layoutIndexPath, JSON.stringify(layoutIndex));
  return { layoutDir, tag, index, platforms: built };
}

/** Pushes the index and every platform's manifest and blobs to `docker://destRef`. */
export async function pushIndex(index: OciIndex, destRef: string): Promise<void> {
  await run('skopeo', ['copy', '--quiet', '--all', '--dest-tls-verify=false', `oci:${index.layoutDir}:${index.tag}`, `docker://${destRef}`]);
}

async function taggedManifest(layoutDir: string, tag: string): Promise<BlobInfo> {
  const layout = JSON.parse(await readFile(join(layoutDir, 'index.json'), 'utf8')) as {
    manifests: { digest: string; annotations?: Record<string, string> }[];
  };
  const entry = layout.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag);
  if (!entry) throw new Error(`no manifest tagged ${tag} in ${layoutDir}`);
  return { digest: entry.digest, sizeBytes: (await stat(blobPath(layoutDir, entry.digest))).size };
}
