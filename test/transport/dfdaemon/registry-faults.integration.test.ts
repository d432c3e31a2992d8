/**
 * dfdaemon end to end with Debian's docker-registry and skopeo, past the seed's "one registry"
 * limit and under upstream faults: two registries behind one mirror, the second selected by a
 * first path segment naming it; an upstream that drops or corrupts a blob mid-transfer (the
 * client gets an error, nothing bad is cached, and a later pull gets the right bytes).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startCountingProxy } from '../../helpers/counting-proxy.ts';
import { assertPulledBlobsMatch, buildImage, pullThroughMirror, pushImage, writeRegistriesConf, type OciImage } from '../../helpers/oci-image.ts';
import { removeDir, tempDir, withProcesses } from '../../../bench/testbed/processes.ts';
import { missingRegistryTools, rawGet, skipMessage, startRegistry } from '../../helpers/registry.ts';

/** Registry locations nothing listens on: a pull that succeeds went through the mirror. */
const DEAD_REGISTRY = '127.0.0.1:1';
const OTHER_DEAD_REGISTRY = '127.0.0.1:2';
/** The second registry's name as clients write it; `.test` never resolves, so only the mirror can serve it. */
const REGISTRY_B_NAME = 'registry-b.test';
const KiB = 1024;
const missing = await missingRegistryTools();

function largestLayer(image: OciImage) {
  return [...image.layers].sort((a, b) => b.sizeBytes - a.sizeBytes)[0];
}

if (missing.length > 0) {
  test('dfdaemon with several registries and upstream faults (skipped)', () => console.log(skipMessage(missing)));
} else {
  test('two registries behind one mirror, the second chosen by a first path segment naming its host', async () => {
    const work = tempDir('dfdaemon-multi');
    const registryA = await startRegistry();
    const registryB = await startRegistry();
    try {
      const imageA = await buildImage(join(work, 'a'), [300 * KiB, 30 * KiB, 3 * KiB]);
      const imageB = await buildImage(join(work, 'b'), [200 * KiB, 20 * KiB, 2 * KiB]);
      await pushImage(imageA, `${registryA.hostPort}/team/a:v1`);
      await pushImage(imageB, `${registryB.hostPort}/team/b:v1`);
      const configPath = join(work, 'dfdaemon.yml');
      // A reference path component cannot hold a port, so the host clients name here has none.
      writeFileSync(configPath, `registries:\n  - host: ${REGISTRY_B_NAME}\n    url: ${registryB.url}\n`);
      await withProcesses(async (procs) => {
        const supernode = await procs.start('supernode', ['--home', join(work, 'sn')], { portFlag: '--port' });
        const daemon = await procs.start('dfdaemon', ['--home', join(work, 'd'), '--registry', registryA.url,
          '--config', configPath, '--node', supernode.addr, '--no-fallback'], { portFlag: '--port' });
        const conf = join(work, 'multi.conf');
        await writeRegistriesConf(conf, [
          { registryHostPort: OTHER_DEAD_REGISTRY, mirrorLocation: daemon.addr },
          { registryHostPort: REGISTRY_B_NAME, mirrorLocation: `${daemon.addr}/${REGISTRY_B_NAME}` },
        ]);
        await pullThroughMirror(conf, `${OTHER_DEAD_REGISTRY}/team/a:v1`, join(work, 'pull-a'));
        await assertPulledBlobsMatch(imageA, join(work, 'pull-a'));
        await pullThroughMirror(conf, `${REGISTRY_B_NAME}/team/b:v1`, join(work, 'pull-b'));
        await assertPulledBlobsMatch(imageB, join(work, 'pull-b'));
      });
    } finally {
      await registryA.stop();
      await registryB.stop();
      removeDir(work);
    }
  });

  test('an upstream that drops or corrupts a blob mid-transfer: the client gets an error, nothing bad is cached', async () => {
    const work = tempDir('dfdaemon-drop');
    const registry = await startRegistry();
    const proxy = await startCountingProxy(registry.url);
    try {
      const image = await buildImage(work, [5 * 1024 * KiB, 100 * KiB, 10 * KiB]);
      await pushImage(image, `${registry.hostPort}/flaky/app:v1`);
      const layer = largestLayer(image);
      await withProcesses(async (procs) => {
        const supernode = await procs.start('supernode', ['--home', join(work, 'sn')], { portFlag: '--port' });
        const daemon = await procs.start('dfdaemon', ['--home', join(work, 'd'), '--registry', proxy.url,
          '--node', supernode.addr, '--timeout', '20s'], { portFlag: '--port' });
        const cached = join(work, 'd', 'dfdaemon', 'data', 'sha256', layer.digest.slice(7));
        const blobUrl = `http://${daemon.addr}/v2/flaky/app/blobs/${layer.digest}`;

        for (const fault of [{ kind: 'drop', afterBytes: 1024 * KiB }, { kind: 'corrupt', atByte: 3 * 1024 * KiB }] as const) {
          proxy.setFault(layer.digest, fault);
          const res = await rawGet(blobUrl);
          assert.ok(res.error !== null || res.status !== 200, `${fault.kind}: the client must see a failure, got a clean ${res.status}`);
          assert.ok(res.body.length < layer.sizeBytes, `${fault.kind}: never the whole body`);
          assert.not.ok(existsSync(cached), `${fault.kind}: nothing kept in the local repo`);
        }

        proxy.setFault(layer.digest, null);
        const conf = join(work, 'flaky.conf');
        await writeRegistriesConf(conf, [{ registryHostPort: DEAD_REGISTRY, mirrorLocation: daemon.addr }]);
        await pullThroughMirror(conf, `${DEAD_REGISTRY}/flaky/app:v1`, join(work, 'pull'));
        await assertPulledBlobsMatch(image, join(work, 'pull'));
      });
    } finally {
      await proxy.close();
      await registry.stop();
      removeDir(work);
    }
  });
}

test.run();
