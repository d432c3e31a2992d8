/**
 * A home's data dir with real files: the seed's one-hour rule, and a size limit that removes the
 * least recently modified unlisted files first and never one an uploader lists or a download writes.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, linkSync, mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { collectDataDir, collectResidualFiles, RESIDUAL_MAX_AGE_MS } from '../../../transport/uploader/data-gc.ts';
import { dirSizeBytes } from '../../helpers/dir-size.ts';
import { removeDir, tempDir } from '../../../bench/testbed/processes.ts';

const MiB = 1024 * 1024;
const NOW_MS = 1_700_000_000_000;
const task = (i: number) => i.toString(16).padStart(2, '0').repeat(32);

/** A file of `sizeBytes` last modified `ageMs` before NOW_MS. */
function put(dir: string, name: string, sizeBytes: number, ageMs: number): void {
  writeFileSync(join(dir, name), Buffer.alloc(sizeBytes, 1));
  const seconds = (NOW_MS - ageMs) / 1000;
  utimesSync(join(dir, name), seconds, seconds);
}

function withDataDir(body: (dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const home = tempDir('data-gc');
    const dir = join(home, 'data');
    mkdirSync(dir);
    try {
      await body(dir);
    } finally {
      removeDir(home);
    }
  };
}

test('one hour: old files go with their .meta; recent, listed and written ones stay', withDataDir(async (dir) => {
  const hourAndMinute = RESIDUAL_MAX_AGE_MS + 60_000;
  put(dir, `${task(1)}.server`, 1000, hourAndMinute);
  put(dir, `${task(2)}-00112233aabbccdd`, 1000, hourAndMinute);
  put(dir, `${task(2)}-00112233aabbccdd.meta`, 100, hourAndMinute);
  put(dir, `${task(3)}.server`, 1000, 60_000);
  put(dir, `${task(4)}.server`, 1000, hourAndMinute);
  put(dir, `${task(5)}-00112233aabbccdd`, 1000, hourAndMinute);
  put(dir, `${task(5)}-00112233aabbccdd.meta`, 100, 1000);
  mkdirSync(join(dir, 'subdir'));
  const inUse = new Set([`${task(4)}.server`]);
  const removed = await collectResidualFiles(dir, RESIDUAL_MAX_AGE_MS, inUse, NOW_MS);
  assert.equal(removed.sort(), [`${task(1)}.server`, `${task(2)}-00112233aabbccdd`, `${task(2)}-00112233aabbccdd.meta`].sort());
  assert.equal(readdirSync(dir).sort(), [`${task(3)}.server`, `${task(4)}.server`, `${task(5)}-00112233aabbccdd`,
    `${task(5)}-00112233aabbccdd.meta`, 'subdir'].sort(), 'a download whose .meta is still written keeps its data file');
}));

test('--data-max 20MiB: the least recently modified unlisted files go until the dir is at the low watermark', withDataDir(async (dir) => {
  for (let i = 0; i < 5; i++) put(dir, `${task(i)}.server`, 8 * MiB, (10 - i) * 60_000);
  const inUse = new Set([`${task(0)}.server`]);
  const { removed, pass } = await collectDataDir(dir, { inUse, limit: { kind: 'bytes', maxBytes: 20 * MiB }, nowEpochMs: NOW_MS });
  assert.equal(removed, [`${task(1)}.server`, `${task(2)}.server`, `${task(3)}.server`], 'oldest first, the listed oldest kept');
  assert.ok(dirSizeBytes(dir) <= 16 * MiB, `dir holds ${dirSizeBytes(dir)} bytes; low watermark 16 MiB`);
  assert.is(pass.limits.lowBytes, 16 * MiB);
  assert.ok(existsSync(join(dir, `${task(0)}.server`)));
  assert.ok(existsSync(join(dir, `${task(4)}.server`)));
}));

test('listed files alone over the limit stay; the pass says by how much', withDataDir(async (dir) => {
  put(dir, `${task(0)}.server`, 8 * MiB, 60_000);
  put(dir, `${task(1)}.server`, 8 * MiB, 30_000);
  const inUse = new Set([`${task(0)}.server`, `${task(1)}.server`]);
  const { removed, pass } = await collectDataDir(dir, { inUse, limit: { kind: 'bytes', maxBytes: 10 * MiB }, nowEpochMs: NOW_MS });
  assert.equal(removed, []);
  assert.is(pass.overBytes, 8 * MiB);
}));

test('the default limit follows the disk: 90 % full leaves the dir alone, 95 % shrinks it', withDataDir(async (dir) => {
  for (let i = 0; i < 3; i++) put(dir, `${task(i)}.server`, 4 * MiB, (10 - i) * 60_000);
  const roomy = await collectDataDir(dir, {
    inUse: new Set(), nowEpochMs: NOW_MS, filesystemStats: async () => ({ filesystemBytes: 1000 * MiB, availableBytes: 500 * MiB }),
  });
  assert.equal(roomy.removed, []);
  const full = await collectDataDir(dir, {
    inUse: new Set(), nowEpochMs: NOW_MS, filesystemStats: async () => ({ filesystemBytes: 1000 * MiB, availableBytes: 92 * MiB }),
  });
  // 90 % keeps 100 MiB free; 92 MiB are: the dir must drop to 12 - 8 = 4 MiB, then to its low watermark (80 %: 3.2 MiB).
  assert.is(full.pass.limits.highBytes, 4 * MiB);
  assert.equal(full.removed, [`${task(0)}.server`, `${task(1)}.server`, `${task(2)}.server`]);
}));

test('a backup hard-linked to its data file counts once; a listed task\'s data files are in use, its backup is not', withDataDir(async (dir) => {
  put(dir, `${task(1)}-00112233aabbccdd`, 8 * MiB, 1000);
  linkSync(join(dir, `${task(1)}-00112233aabbccdd`), join(dir, `${task(1)}.server`));
  put(dir, `${task(2)}.server`, 8 * MiB, 5000);
  const limit = { kind: 'bytes' as const, maxBytes: 20 * MiB };
  const calm = await collectDataDir(dir, { inUse: new Set(), limit, nowEpochMs: NOW_MS });
  assert.is(calm.pass.totalBytes, 16 * MiB, 'the data file and its .server link are 8 MiB on disk, not 16');
  assert.equal(calm.removed, []);
  const lastUsedMs = new Map([[`${task(2)}.server`, NOW_MS]]);
  const { removed } = await collectDataDir(dir, { inUse: new Set(), inUseTasks: new Set([task(1)]), lastUsedMs, limit, incomingBytes: 8 * MiB, nowEpochMs: NOW_MS });
  assert.equal(removed, [`${task(1)}.server`], 'its download may be moving the data file; the backup is evictable and older than task 2\'s last serve');
  assert.ok(existsSync(join(dir, `${task(1)}-00112233aabbccdd`)));
}));

test('a missing data dir is nothing to do', async () => {
  assert.equal(await collectResidualFiles('/nonexistent/sdf-data', RESIDUAL_MAX_AGE_MS, new Set()), []);
});

test.run();
