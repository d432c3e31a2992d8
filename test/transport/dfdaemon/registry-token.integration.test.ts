/**
 * The Docker Hub style token flow through dfdaemon, with Debian's docker-registry configured for
 * token auth and a token server in the test: the client meets the Bearer challenge through the
 * mirror, fetches a token from the realm itself, and sends it to dfdaemon, which hands it to the
 * supernode with the task. A client without a valid token gets the registry's 401, no bytes.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { assertPulledBlobsMatch, buildImage, pullThroughMirror, pushImage, writeAuthFile, writeRegistriesConf } from '../../helpers/oci-image.ts';
import { removeDir, tempDir, withProcesses } from '../../../bench/testbed/processes.ts';
import { missingRegistryTools, rawGet, skipMessage, startRegistry } from '../../helpers/registry.ts';

const DEAD_REGISTRY = '127.0.0.1:1';
const KiB = 1024;
const creds = { username: 'token-user', password: 'token-pass' };
const missing = await missingRegistryTools();

if (missing.length > 0) {
  test('dfdaemon with a token-auth registry (skipped)', () => console.log(skipMessage(missing)));
} else {
  test('token auth: the Bearer challenge and token pass through; layers go P2P with the token; no token, no bytes', async () => {
    const work = tempDir('dfdaemon-token');
    const registry = await startRegistry({ tokenAuth: creds });
    try {
      const image = await buildImage(work, [5 * 1024 * KiB, 200 * KiB, 20 * KiB]);
      await pushImage(image, `${registry.hostPort}/vault/app:v1`, creds);
      await withProcesses(async (procs) => {
        const supernode = await procs.start('supernode', ['--home', join(work, 'sn')], { portFlag: '--port' });
        const daemon = await procs.start('dfdaemon', ['--home', join(work, 'd'), '--registry', registry.url,
          '--node', supernode.addr, '--no-fallback'], { portFlag: '--port' });
        const conf = join(work, 'token.conf');
        await writeRegistriesConf(conf, [{ registryHostPort: DEAD_REGISTRY, mirrorLocation: daemon.addr }]);
        const authFile = join(work, 'auth.json');
        await writeAuthFile(authFile, creds, [daemon.addr]);

        const ping = await rawGet(`http://${daemon.addr}/v2/`);
        assert.is(ping.status, 401);
        assert.match(String(ping.headers['www-authenticate']), /^Bearer realm="http:\/\/127\.0\.0\.1:\d+\/token"/);

        await pullThroughMirror(conf, `${DEAD_REGISTRY}/vault/app:v1`, join(work, 'pull'), authFile);
        await assertPulledBlobsMatch(image, join(work, 'pull'));
        assert.match(daemon.stderr, /via P2P/, 'layers went through P2P with the token');

        const layer = image.layers[0];
        for (const authorization of [undefined, 'Bearer not.a.token']) {
          const res = await rawGet(`http://${daemon.addr}/v2/vault/app/blobs/${layer.digest}`, authorization ? { authorization } : {});
          assert.is(res.status, 401, `blob with ${authorization ?? 'no token'}`);
          assert.match(String(res.headers['www-authenticate']), /scope="repository:vault\/app:pull"/);
          assert.ok(res.body.length < 1024, `no blob bytes (${res.body.length} bytes of body)`);
        }
        let anonymousFailed = false;
        try {
          await pullThroughMirror(conf, `${DEAD_REGISTRY}/vault/app:v1`, join(work, 'pull-anon'));
        } catch {
          anonymousFailed = true;
        }
        assert.ok(anonymousFailed, 'a pull without credentials fails');
      });
    } finally {
      await registry.stop();
      removeDir(work);
    }
  });
}

test.run();
