/**
 * dfdaemon's bounded disks with real processes and Debian's docker-registry: `--repo-max 64MiB
 * --data-max 64MiB`, five 32 MiB layer blobs pulled one after the other through the mirror (as an
 * engine fetches layers) and the first again. Sampled every 20 ms, the local repo and the home's
 * data dir never hold more than 64 MiB; every blob arrives with its digest; an evicted blob comes
 * back through P2P.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { removeDir, tempDir, withProcesses } from '../../../bench/testbed/processes.ts';
import { dirSizeBytes } from '../../helpers/dir-size.ts';
import { missingRegistryTools, skipMessage, startRegistry } from '../../helpers/registry.ts';

const MiB = 1024 * 1024;
const LIMIT_BYTES = 64 * MiB;
const missing = await missingRegistryTools();

const digestOf = (bytes: Buffer): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

/** A monolithic blob upload (POST then PUT with the digest), as a registry client pushes a layer. */
async function pushBlob(registryUrl: string, repository: string, bytes: Buffer): Promise<string> {
  const started = await fetch(`${registryUrl}/v2/${repository}/blobs/uploads/`, { method: 'POST' });
  assert.is(started.status, 202, `upload start: HTTP ${started.status}`);
  const location = new URL(started.headers.get('location')!, registryUrl);
  const digest = digestOf(bytes);
  location.searchParams.set('digest', digest);
  const put = await fetch(location, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: bytes });
  assert.is(put.status, 201, `upload: HTTP ${put.status}`);
  return digest;
}

if (missing.length > 0) {
  test('dfdaemon --repo-max with a real registry (skipped)', () => console.log(skipMessage(missing)));
} else {
  test('--repo-max 64MiB --data-max 64MiB: five 32 MiB blobs through dfdaemon, the repo and the data dir stay under 64 MiB', async () => {
    const work = tempDir('repo-limit');
    const registry = await startRegistry();
    try {
      const blobs = await Promise.all(Array.from({ length: 5 }, async () => {
        const bytes = randomBytes(32 * MiB);
        return { bytes, digest: await pushBlob(registry.url, 'test/big', bytes) };
      }));
      await withProcesses(async (procs) => {
        const supernode = await procs.start('supernode', ['--home', join(work, 'sn')], { portFlag: '--port' });
        const home = join(work, 'd');
        const daemon = await procs.start('dfdaemon', ['--home', home, '--registry', registry.url, '--node', supernode.addr, '--no-fallback',
          '--repo-max', '64MiB', '--data-max', '64MiB'], { portFlag: '--port' });
        const peaks = { repo: 0, data: 0 };
        const sampler = setInterval(() => {
          peaks.repo = Math.max(peaks.repo, dirSizeBytes(join(home, 'dfdaemon', 'data')));
          peaks.data = Math.max(peaks.data, dirSizeBytes(join(home, 'data')));
        }, 20);
        try {
          for (const blob of [...blobs, blobs[0]]) {
            const res = await fetch(`http://${daemon.addr}/v2/test/big/blobs/${blob.digest}`);
            assert.is(res.status, 200);
            const body = Buffer.from(await res.arrayBuffer());
            assert.is(digestOf(body), blob.digest, 'the blob arrives whole');
          }
        } finally {
          clearInterval(sampler);
        }
        const metrics = await (await fetch(`http://${daemon.addr}/metrics`)).text();
        const evictions = [...daemon.stderr.matchAll(/local repo: evicted (sha256:.*)$/gm)].reduce((n, m) => n + m[1].split(', ').length, 0);
        console.log(`dfdaemon bounded disks: repo peak ${peaks.repo} bytes, data dir peak ${peaks.data} bytes (limit ${LIMIT_BYTES}); `
          + `${evictions} blobs evicted from the repo`);
        assert.match(metrics, /^dfdaemon_blobs_via_p2p_total 6$/m, 'every blob, the evicted one again, through P2P');
        assert.ok(peaks.repo <= LIMIT_BYTES, `the repo reached ${peaks.repo} bytes`);
        assert.ok(peaks.data <= LIMIT_BYTES, `the data dir reached ${peaks.data} bytes`);
        assert.ok(peaks.repo >= 32 * MiB, 'the sampler saw the repo fill');
        assert.ok(evictions >= 4, `${evictions} evictions`);
      });
    } finally {
      await registry.stop();
      removeDir(work);
    }
  });
}

test.run();
