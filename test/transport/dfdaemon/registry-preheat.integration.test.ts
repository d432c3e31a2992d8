/**
 * Preheat of an image from Debian's docker-registry, then pulls through dfdaemon: the `preheat`
 * command fetches every blob of a three-layer image into the supernode's CDN; three dfdaemons
 * (--no-fallback) pulled by skopeo then get every layer and the config, and a counting proxy in
 * front of the registry sees zero blob bytes after the preheat. An OCI index preheated for one
 * platform fetches that platform's blobs only.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { startCountingProxy } from '../../helpers/counting-proxy.ts';
import { buildIndex, pushIndex } from '../../helpers/oci-index.ts';
import { assertPulledBlobsMatch, pullThroughMirror, pushedTestImage, writeRegistriesConf } from '../../helpers/oci-image.ts';
import { REPO_ROOT, removeDir, tempDir, timeProcess, withProcesses } from '../../../bench/testbed/processes.ts';
import { missingRegistryTools, skipMessage, startRegistry } from '../../helpers/registry.ts';
import type { PreheatJobView } from '../../../core/preheat.ts';

const DEAD_REGISTRY = '127.0.0.1:1';
const MiB = 1024 * 1024;
const missing = await missingRegistryTools();

async function preheat(supernode: string, args: string[]): Promise<PreheatJobView> {
  const { stdout } = await timeProcess([join(REPO_ROOT, 'bin', 'preheat.js'), '--node', supernode, '--json', ...args]);
  return JSON.parse(stdout) as PreheatJobView;
}

if (missing.length > 0) {
  test('preheat with a real registry (skipped)', () => console.log(skipMessage(missing)));
} else {
  test('a preheated three-layer image reaches three dfdaemons with zero blob bytes from the registry', async () => {
    const work = tempDir('preheat-image');
    const registry = await startRegistry();
    const proxy = await startCountingProxy(registry.url);
    try {
      const { image, blobs, imageBytes } = await pushedTestImage(work, registry.hostPort);
      await withProcesses(async (procs) => {
        const supernode = await procs.start('supernode', ['--home', join(work, 'sn')], { portFlag: '--port' });
        const view = await preheat(supernode.addr, ['--image', `http://${proxy.hostPort}/test/app:v1`]);
        assert.is(view.state, 'succeeded', JSON.stringify(view));
        assert.equal(view.files.map((f) => f.label).sort(), blobs.map((b) => b.digest).sort(), 'the config and every layer');
        assert.is(view.bytesDone, imageBytes);
        const preheatBytes = proxy.totalBlobBytes();
        assert.ok(preheatBytes >= imageBytes && preheatBytes <= imageBytes * 1.01, `the preheat fetched ${preheatBytes} blob bytes of ${imageBytes}`);
        proxy.reset();

        const daemons = await Promise.all([0, 1, 2].map((i) => procs.start('dfdaemon', ['--home', join(work, `d${i}`),
          '--registry', proxy.url, '--node', supernode.addr, '--no-fallback'], { portFlag: '--port' })));
        const pull = async (i: number): Promise<void> => {
          const conf = join(work, `registries-${i}.conf`);
          await writeRegistriesConf(conf, [{ registryHostPort: DEAD_REGISTRY, mirrorLocation: daemons[i].addr }]);
          await pullThroughMirror(conf, `${DEAD_REGISTRY}/test/app:v1`, join(work, `pull${i}`));
          await assertPulledBlobsMatch(image, join(work, `pull${i}`));
        };
        await pull(0);
        await Promise.all([pull(1), pull(2)]);
        const blobRequests = proxy.requests.filter((r) => r.includes('/blobs/'));
        console.log(`preheat: registry sent ${preheatBytes} blob bytes for the preheat (image ${imageBytes}), then `
          + `${proxy.totalBlobBytes()} for three pulls through dfdaemon (${blobRequests.length} blob requests: `
          + `${[...new Set(blobRequests.map((r) => `${r.split(' ')[0]} ${r.split(' ').at(-1)}`))].join(', ')})`);
        assert.is(proxy.totalBlobBytes(), 0, 'no blob byte from the registry after the preheat');
      });
    } finally {
      await proxy.close();
      await registry.stop();
      removeDir(work);
    }
  });

  test('an index preheated for linux/amd64 fetches the amd64 blobs only', async () => {
    const work = tempDir('preheat-index');
    const registry = await startRegistry();
    const proxy = await startCountingProxy(registry.url);
    try {
      const index = await buildIndex(work, [
        { architecture: 'amd64', layerSizesBytes: [1 * MiB, 64 * 1024] },
        { architecture: 'arm64', layerSizesBytes: [1 * MiB + 5] },
      ]);
      await pushIndex(index, `${registry.hostPort}/test/multi:v1`);
      const [amd64, arm64] = index.platforms;
      await withProcesses(async (procs) => {
        const supernode = await procs.start('supernode', ['--home', join(work, 'sn')], { portFlag: '--port' });
        const view = await preheat(supernode.addr, ['--image', `http://${proxy.hostPort}/test/multi:v1`, '--platform', 'linux/amd64']);
        assert.is(view.state, 'succeeded', JSON.stringify(view));
        assert.equal(view.files.map((f) => f.label).sort(), [amd64.config, ...amd64.layers].map((b) => b.digest).sort());
        for (const blob of [arm64.config, ...arm64.layers]) assert.is(proxy.blobBytes(blob.digest), 0, `no byte of arm64 blob ${blob.digest}`);
        const all = await preheat(supernode.addr, ['--image', `http://${proxy.hostPort}/test/multi:v1`]);
        assert.is(all.files.length, 2 + 3, 'without --platform: both platforms');
      });
    } finally {
      await proxy.close();
      await registry.stop();
      removeDir(work);
    }
  });
}

test.run();
