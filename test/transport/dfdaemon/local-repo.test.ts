/**
 * dfdaemon's local repo under a size limit, with real files: five 32 MiB blobs through a 64 MiB
 * repo, downloads reserving room before they start; least recently looked-up blobs go first; a
 * blob being served (pinned) and a download in progress are never evicted; a restart gets under
 * the limit at open.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { existsSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LocalRepo, type LocalRepoOptions } from '../../../transport/dfdaemon/local-repo.ts';
import { dirSizeBytes } from '../../helpers/dir-size.ts';
import { removeDir, tempDir } from '../../../bench/testbed/processes.ts';

const MiB = 1024 * 1024;

function blob(seed: number, sizeBytes: number): { bytes: Buffer; digest: string } {
  const bytes = Buffer.alloc(sizeBytes, seed);
  return { bytes, digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}` };
}

/** Download `bytes` the way dfdaemon does: reserve, write into tmp/ (then the reservation ends), promote. */
async function land(repo: LocalRepo, b: { bytes: Buffer; digest: string }, reserve = true): Promise<void> {
  const release = reserve ? await repo.reserve(b.bytes.length) : () => {};
  const tmp = repo.tempPath(b.digest);
  writeFileSync(tmp, b.bytes);
  release();
  await repo.promote(tmp, b.digest);
}

function withRepo(body: (open: (opts: LocalRepoOptions) => Promise<LocalRepo>, evicted: string[], dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const home = tempDir('local-repo');
    const dir = join(home, 'dfdaemon', 'data');
    const evicted: string[] = [];
    try {
      await body(async (opts) => {
        const repo = new LocalRepo(dir, { ...opts, onEvicted: (digests) => evicted.push(...digests) });
        await repo.open();
        return repo;
      }, evicted, dir);
    } finally {
      removeDir(home);
    }
  };
}

test('a 64 MiB repo: five 32 MiB blobs never take more than 64 MiB, downloads included', withRepo(async (open, evicted, dir) => {
  const repo = await open({ limit: { kind: 'bytes', maxBytes: 64 * MiB } });
  const blobs = [0, 1, 2, 3, 4].map((i) => blob(i, 32 * MiB));
  let peakBytes = 0;
  for (const b of blobs) {
    const release = await repo.reserve(b.bytes.length);
    const tmp = repo.tempPath(b.digest);
    writeFileSync(tmp, b.bytes);
    release();
    peakBytes = Math.max(peakBytes, dirSizeBytes(dir));
    await repo.promote(tmp, b.digest);
    peakBytes = Math.max(peakBytes, dirSizeBytes(dir));
    assert.ok(peakBytes <= 64 * MiB, `repo holds ${peakBytes} bytes`);
  }
  // Each new blob takes the repo past 64 MiB, and eviction goes down to the low watermark
  // (80 %: 51.2 MiB) counting the incoming blob: one 32 MiB blob at a time survives it.
  assert.equal(evicted, blobs.slice(0, 4).map((b) => b.digest));
  assert.is(await repo.storedSize(blobs[4].digest), 32 * MiB);
  assert.is(await repo.storedSize(blobs[3].digest), null);
  console.log(`local repo: five 32 MiB blobs through a 64 MiB limit, peak ${peakBytes} bytes on disk, evicted ${evicted.length}`);
}));

test('a looked-up blob is recent; a pinned blob and a download in progress are never evicted', withRepo(async (open, evicted, dir) => {
  const repo = await open({ limit: { kind: 'bytes', maxBytes: 10 * MiB } });
  const [a, b, c, d] = [0, 1, 2, 3].map((i) => blob(i, 4 * MiB));
  await land(repo, a);
  await land(repo, b);
  utimesSync(repo.blobPath(a.digest), 100, 100);
  utimesSync(repo.blobPath(b.digest), 200, 200);
  assert.is(await repo.storedSize(a.digest), 4 * MiB, 'a client asks for a: now the most recent');
  await land(repo, c);
  assert.equal(evicted, [b.digest], 'b, not a, was least recently used');

  const release = repo.pin(a.digest);
  utimesSync(repo.blobPath(a.digest), 100, 100);
  const inFlight = repo.tempPath(d.digest);
  writeFileSync(inFlight, d.bytes);
  await repo.enforceLimit();
  assert.equal(evicted, [b.digest, c.digest], 'a is pinned: c goes although a is older');
  assert.ok(existsSync(repo.blobPath(a.digest)) && existsSync(inFlight));
  release();
  await repo.promote(inFlight, d.digest);
  assert.equal(evicted, [b.digest, c.digest], 'a and d fit (8 MiB)');
  await land(repo, blob(4, 4 * MiB));
  assert.equal(evicted, [b.digest, c.digest, a.digest], 'released: a, the oldest, goes when the next blob comes');
  assert.ok(dirSizeBytes(dir) <= 10 * MiB);
}));

test('a restart opens over the limit and gets under it; leftover downloads are dropped', withRepo(async (open, evicted, dir) => {
  const first = await open({ limit: { kind: 'bytes', maxBytes: 100 * MiB } });
  for (let i = 0; i < 4; i++) await land(first, blob(i, 4 * MiB), false);
  writeFileSync(first.tempPath(blob(9, 1).digest), Buffer.alloc(MiB));
  assert.equal(evicted, []);
  await open({ limit: { kind: 'bytes', maxBytes: 10 * MiB } });
  assert.is(evicted.length, 2);
  assert.ok(dirSizeBytes(dir) <= 8 * MiB);
}));

test.run();
