/**
 * dfdaemon end to end beyond the seed's limits, with Debian's docker-registry and skopeo:
 * a registry behind htpasswd auth (credentials work; a client without them gets the 401 and no
 * blob bytes even when the blob is cached at the supernode and in the local repo), and an HTTPS
 * registry with a self-signed certificate given by --cacert (or accepted with --insecure).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  assertPulledBlobsMatch, buildImage, pullThroughMirror, pushImage, writeAuthFile, writeRegistriesConf, type OciImage,
} from '../../helpers/oci-image.ts';
import { removeDir, tempDir, withProcesses } from '../../../bench/testbed/processes.ts';
import { basicAuth, missingRegistryTools, rawGet, skipMessage, startRegistry } from '../../helpers/registry.ts';

/** Registry locations nothing listens on: a pull that succeeds went through the mirror. */
const DEAD_REGISTRY = '127.0.0.1:1';
const KiB = 1024;
const creds = { username: 'puller', password: 's3cret-pass' };
const missing = await missingRegistryTools();

function largestLayer(image: OciImage) {
  return [...image.layers].sort((a, b) => b.sizeBytes - a.sizeBytes)[0];
}

async function rejects(promise: Promise<unknown>, pattern: RegExp, what: string): Promise<void> {
  try {
    await promise;
  } catch (err) {
    assert.match((err as Error).message, pattern, what);
    return;
  }
  assert.unreachable(`${what}: expected a failure`);
}

if (missing.length > 0) {
  test('dfdaemon with private and HTTPS registries (skipped)', () => console.log(skipMessage(missing)));
} else {
  test('htpasswd registry: pulls with credentials work, none or wrong credentials get 401 and no blob bytes', async () => {
    const work = tempDir('dfdaemon-auth');
    const registry = await startRegistry({ auth: creds });
    try {
      const image = await buildImage(work, [5 * 1024 * KiB, 300 * KiB, 20 * KiB]);
      await pushImage(image, `${registry.hostPort}/private/app:v1`, creds);
      const layer = largestLayer(image);
      await withProcesses(async (procs) => {
        const supernode = await procs.start('supernode', ['--home', join(work, 'sn')], { portFlag: '--port' });
        const start = (name: string) => procs.start('dfdaemon', ['--home', join(work, name), '--registry', registry.url,
          '--node', supernode.addr, '--no-fallback'], { portFlag: '--port' });
        const [first, second] = await Promise.all([start('first'), start('second')]);

        const conf = join(work, 'first.conf');
        await writeRegistriesConf(conf, [{ registryHostPort: DEAD_REGISTRY, mirrorLocation: first.addr }]);
        const authFile = join(work, 'auth.json');
        await writeAuthFile(authFile, creds, [first.addr, second.addr]);
        await pullThroughMirror(conf, `${DEAD_REGISTRY}/private/app:v1`, join(work, 'pull-first'), authFile);
        await assertPulledBlobsMatch(image, join(work, 'pull-first'));
        assert.ok(existsSync(join(work, 'first', 'dfdaemon', 'data', 'sha256', layer.digest.slice(7))), 'the layer is cached locally');

        await rejects(pullThroughMirror(conf, `${DEAD_REGISTRY}/private/app:v1`, join(work, 'pull-anon')),
          /unauthorized|authentication required|401/i, 'skopeo without credentials');
        const blobPath = `/v2/private/app/blobs/${layer.digest}`;
        for (const [daemon, authorization] of [[first, undefined], [first, basicAuth(creds.username, 'wrong')], [second, undefined]] as const) {
          const res = await rawGet(`http://${daemon.addr}${blobPath}`, authorization ? { authorization } : {});
          assert.is(res.status, 401, `${daemon.addr} with ${authorization ?? 'no credentials'}`);
          assert.ok(res.headers['www-authenticate'], 'the registry challenge passes through');
          assert.ok(res.body.length < 1024, `no blob bytes (${res.body.length} bytes of body)`);
        }

        // A second host with credentials: the supernode has the task cached and lets it in.
        const secondConf = join(work, 'second.conf');
        await writeRegistriesConf(secondConf, [{ registryHostPort: DEAD_REGISTRY, mirrorLocation: second.addr }]);
        await pullThroughMirror(secondConf, `${DEAD_REGISTRY}/private/app:v1`, join(work, 'pull-second'), authFile);
        await assertPulledBlobsMatch(image, join(work, 'pull-second'));
      });
    } finally {
      await registry.stop();
      removeDir(work);
    }
  });

  test('HTTPS registry with a self-signed certificate: --cacert makes it work, without it the error says why', async () => {
    const work = tempDir('dfdaemon-tls');
    const registry = await startRegistry({ tls: true });
    try {
      const image = await buildImage(work, [5 * 1024 * KiB, 100 * KiB, 10 * KiB]);
      await pushImage(image, `${registry.hostPort}/secure/app:v1`);
      await withProcesses(async (procs) => {
        // The supernode fetches the source itself, so it must trust the private CA too.
        const supernode = await procs.start('supernode', ['--home', join(work, 'sn')],
          { portFlag: '--port', env: { NODE_EXTRA_CA_CERTS: registry.caCertPath! } });
        const daemon = await procs.start('dfdaemon', ['--home', join(work, 'd'), '--registry', registry.url,
          '--cacert', registry.caCertPath!, '--node', supernode.addr, '--no-fallback'], { portFlag: '--port' });
        const conf = join(work, 'tls.conf');
        await writeRegistriesConf(conf, [{ registryHostPort: DEAD_REGISTRY, mirrorLocation: daemon.addr }]);
        await pullThroughMirror(conf, `${DEAD_REGISTRY}/secure/app:v1`, join(work, 'pull'));
        await assertPulledBlobsMatch(image, join(work, 'pull'));

        const [untrusting, insecure] = await Promise.all([
          procs.start('dfdaemon', ['--home', join(work, 'u'), '--registry', registry.url, '--node', supernode.addr], { portFlag: '--port' }),
          procs.start('dfdaemon', ['--home', join(work, 'i'), '--registry', registry.url, '--insecure', '--node', supernode.addr], { portFlag: '--port' }),
        ]);
        const res = await rawGet(`http://${untrusting.addr}/v2/secure/app/manifests/v1`);
        assert.is(res.status, 502);
        assert.match(res.body.toString(), /certificate.*--cacert/i, 'the error names the certificate problem and the fix');
        const insecureRes = await rawGet(`http://${insecure.addr}/v2/secure/app/manifests/v1`, {
          accept: 'application/vnd.oci.image.manifest.v1+json',
        });
        assert.is(insecureRes.status, 200, '--insecure accepts the self-signed certificate');
      });
    } finally {
      await registry.stop();
      removeDir(work);
    }
  });
}

test.run();
