/**
 * End to end with Debian's docker-registry and skopeo: an image of three layers, three dfdaemon
 * processes (own homes and ports) and one supernode. Each dfdaemon serves a `skopeo copy` through
 * a registries.conf mirror entry whose registry location is a dead address, so a pull can only
 * succeed through the mirror; dfdaemon runs with --no-fallback, so every blob it served came
 * through P2P. A counting proxy in front of the registry shows how many copies it sent.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startCountingProxy } from '../../helpers/counting-proxy.ts';
import { assertPulledBlobsMatch, pullThroughMirror, pushedTestImage, writeRegistriesConf } from '../../helpers/oci-image.ts';
import { removeDir, tempDir, withProcesses } from '../../../bench/testbed/processes.ts';
import { missingRegistryTools, rawGet, run, skipMessage, startRegistry } from '../../helpers/registry.ts';

const DEAD_REGISTRY = '127.0.0.1:1';
const missing = await missingRegistryTools();

if (missing.length > 0) {
  test('dfdaemon with a real registry (skipped)', () => console.log(skipMessage(missing)));
} else {
  test('three dfdaemons pull a three-layer image through one supernode; the registry sends each blob about once', async () => {
    const work = tempDir('dfdaemon-e2e');
    const registry = await startRegistry();
    const proxy = await startCountingProxy(registry.url);
    try {
      const { image, blobs, imageBytes } = await pushedTestImage(work, registry.hostPort);

      for (let i = 0; i < 3; i++) {
        await run('skopeo', ['copy', '--quiet', '--src-tls-verify=false', `docker://${proxy.hostPort}/test/app:v1`, `dir:${join(work, `direct${i}`)}`]);
      }
      const directBytes = proxy.totalBlobBytes();
      proxy.reset();

      await withProcesses(async (procs) => {
        const supernode = await procs.start('supernode', ['--home', join(work, 'sn')], { portFlag: '--port' });
        const daemons = await Promise.all([0, 1, 2].map((i) => procs.start('dfdaemon', ['--home', join(work, `d${i}`),
          '--registry', proxy.url, '--node', supernode.addr, '--no-fallback'], { portFlag: '--port' })));
        const pull = async (i: number): Promise<void> => {
          const conf = join(work, `registries-${i}.conf`);
          await writeRegistriesConf(conf, [{ registryHostPort: DEAD_REGISTRY, mirrorLocation: daemons[i].addr }]);
          await pullThroughMirror(conf, `${DEAD_REGISTRY}/test/app:v1`, join(work, `pull${i}`));
          await assertPulledBlobsMatch(image, join(work, `pull${i}`));
        };
        // One host first, then two at once: the later ones may take pieces from the first one's uploader.
        await pull(0);
        await Promise.all([pull(1), pull(2)]);
        const fromPeers = daemons.map((d) => sumLogged(d.stderr, 'from peers'));
        const fromSupernode = daemons.map((d) => sumLogged(d.stderr, 'from the supernode'));
        for (const daemon of daemons) {
          const metrics = (await rawGet(`http://${daemon.addr}/metrics`)).body.toString();
          assert.match(metrics, new RegExp(`^dfdaemon_blobs_via_p2p_total ${blobs.length}$`, 'm'), `${daemon.addr}: every blob via P2P`);
          assert.match(metrics, /^dfdaemon_blobs_via_fallback_total 0$/m);
        }
        // Reported, not asserted: whether a finished host stays a source is the supernode's and dfget's call.
        console.log(`blob bytes per dfdaemon from peers ${fromPeers.join('/')}, from the supernode ${fromSupernode.join('/')}`);

        const p2pBytes = proxy.totalBlobBytes();
        console.log(`registry blob bytes: 3 pulls through dfdaemon ${p2pBytes}, 3 direct pulls ${directBytes}, ` +
          `image ${imageBytes}; ratio ${(p2pBytes / directBytes).toFixed(3)} (1/3 = one copy for three hosts)`);
        for (const blob of blobs) {
          const sent = proxy.blobBytes(blob.digest);
          assert.ok(sent <= 1.05 * blob.sizeBytes, `registry sent ${sent} bytes of ${blob.digest} (${blob.sizeBytes} bytes): more than one copy`);
        }
        assert.is(directBytes, 3 * imageBytes, 'each direct pull fetches every blob');
        for (const [i, daemon] of daemons.entries()) {
          for (const blob of blobs) {
            assert.ok(existsSync(join(work, `d${i}`, 'dfdaemon', 'data', 'sha256', blob.digest.slice(7))),
              `${daemon.name} ${i} keeps ${blob.digest} in its local repo`);
          }
        }

        // Bad input at the mirror: a malformed digest is refused, an unknown manifest is the registry's own 404.
        const malformed = await rawGet(`http://${daemons[0].addr}/v2/test/app/blobs/sha256:1234`);
        assert.is(malformed.status, 400);
        assert.is(JSON.parse(malformed.body.toString()).errors[0].code, 'DIGEST_INVALID');
        const viaMirror = await rawGet(`http://${daemons[0].addr}/v2/test/app/manifests/missing`);
        const direct = await rawGet(`${registry.url}/v2/test/app/manifests/missing`);
        assert.is(viaMirror.status, 404);
        assert.is(viaMirror.body.toString(), direct.body.toString());
        assert.is(viaMirror.headers['content-type'], direct.headers['content-type']);
      });
    } finally {
      await proxy.close();
      await registry.stop();
      removeDir(work);
    }
  });
}

/** Sum of the byte counts dfdaemon logged for finished P2P blobs (`..., N from peers, ...`). */
function sumLogged(log: string, what: string): number {
  let total = 0;
  for (const match of log.matchAll(new RegExp(`(\\d+) ${what}`, 'g'))) total += Number(match[1]);
  return total;
}

test.run();
