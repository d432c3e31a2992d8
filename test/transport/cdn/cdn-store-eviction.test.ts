/**
 * The CDN cache under a size limit, with real files in a temp dir: five 32 MiB tasks through a
 * 64 MiB cache never take more than 64 MiB, least recently used tasks go first and are reported,
 * and a pinned task (held, being read, or needed by the supernode) is never evicted.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { CdnStore, type CdnStoreOptions, type PieceRecord } from '../../../transport/cdn/cdn-store.ts';
import { dirSizeBytes } from '../../helpers/dir-size.ts';
import { removeDir, tempDir } from '../../../bench/testbed/processes.ts';

const MiB = 1024 * 1024;
const PIECE_BYTES = 4 * MiB;
const taskId = (i: number) => i.toString(16).padStart(2, '0').repeat(32);

/** Writes a task of 4 MiB pieces, checking the cache after every write; returns the peak and the records. */
async function writeTask(store: CdnStore, id: string, pieces: number, maxBytes: number): Promise<{ peakBytes: number; records: PieceRecord[] }> {
  let peakBytes = 0;
  const records: PieceRecord[] = [];
  for (let piece = 0; piece < pieces; piece++) {
    records.push(await store.writePiece(id, piece, Buffer.alloc(PIECE_BYTES, piece + id.charCodeAt(0))));
    peakBytes = Math.max(peakBytes, dirSizeBytes(store.rootDir));
    assert.ok(peakBytes <= maxBytes, `cache holds ${peakBytes} bytes after piece ${piece} of ${id.slice(0, 4)}: over ${maxBytes}`);
  }
  return { peakBytes, records };
}

/** A test body with a fresh cache dir and a `make` that opens a store on it, recording evictions. */
function withCache(body: (make: (opts: CdnStoreOptions) => CdnStore, evicted: string[]) => Promise<void>): () => Promise<void> {
  return async () => {
    const home = tempDir('cdn-evict');
    const evicted: string[] = [];
    try {
      await body((opts) => new CdnStore(join(home, 'cdn'), { ...opts, onEvicted: (ids) => evicted.push(...ids) }), evicted);
    } finally {
      removeDir(home);
    }
  };
}

test('--cache-max 64MiB: five 32 MiB tasks; the cache never passes 64 MiB and evicts the oldest', withCache(async (make, evicted) => {
  const store = make({ limit: { kind: 'bytes', maxBytes: 64 * MiB } });
  let peakBytes = 0;
  const written = [];
  for (let i = 0; i < 5; i++) {
    const task = await writeTask(store, taskId(i), 8, 64 * MiB);
    peakBytes = Math.max(peakBytes, task.peakBytes);
    written.push(task.records);
  }
  assert.equal(evicted, [taskId(0), taskId(1), taskId(2)], 'least recently used first, each reported');
  assert.not.ok(existsSync(store.dirOf(taskId(2))));
  for (const i of [3, 4]) {
    for (const [piece, record] of written[i].entries()) assert.ok(await store.readVerified(taskId(i), piece, record), `task ${i} piece ${piece} intact`);
  }
  console.log(`CDN store: five 32 MiB tasks through --cache-max 64MiB, peak ${peakBytes} bytes on disk, evicted ${evicted.length}`);
}));

test('a read makes a task recent: the other one is evicted instead', withCache(async (make, evicted) => {
  let clockMs = 1_000_000;
  const timed = make({ limit: { kind: 'bytes', maxBytes: 16 * MiB }, nowEpochMs: () => clockMs });
  const records = [];
  for (const i of [0, 1]) {
    records.push(await timed.writePiece(taskId(i), 0, Buffer.alloc(PIECE_BYTES, i)));
    records.push(await timed.writePiece(taskId(i), 1, Buffer.alloc(PIECE_BYTES, i)));
    // File times from long ago: only this process's own record of use orders the two tasks.
    utimesSync(join(timed.dirOf(taskId(i)), '0.piece'), 100, 100);
    utimesSync(join(timed.dirOf(taskId(i)), '1.piece'), 100, 100);
  }
  clockMs += 1000;
  assert.ok(await timed.readVerified(taskId(0), 0, records[0]), 'task 0 read: now the most recent');
  clockMs += 1000;
  await timed.writePiece(taskId(2), 0, Buffer.alloc(PIECE_BYTES, 2));
  assert.equal(evicted, [taskId(1)]);
}));

test('pinned tasks are never evicted: held with pin(), being read, or needed by the supernode', withCache(async (make, evicted) => {
  const needed = new Set<string>();
  const store = make({ limit: { kind: 'bytes', maxBytes: 12 * MiB }, isPinned: (id) => needed.has(id) });
  const records = new Map<string, PieceRecord>();
  for (let i = 0; i < 3; i++) records.set(taskId(i), await store.writePiece(taskId(i), 0, Buffer.alloc(PIECE_BYTES, i)));
  const release = store.pin(taskId(0));
  needed.add(taskId(1));
  // Started, not awaited: the read pins task 2 before it yields.
  const reading = store.readVerified(taskId(2), 0, records.get(taskId(2))!);
  const pass = await store.enforceLimit();
  assert.ok(await reading);
  assert.equal(evicted, [], 'every task is pinned');
  assert.is(pass.overBytes, 0, 'at the limit, not over it');

  await store.writePiece(taskId(3), 0, Buffer.alloc(PIECE_BYTES, 3));
  assert.equal(evicted, [taskId(2)], 'the only unpinned old task goes');
  assert.ok(existsSync(store.dirOf(taskId(0))) && existsSync(store.dirOf(taskId(1))));
  assert.ok(dirSizeBytes(store.rootDir) <= 12 * MiB);

  release();
  needed.clear();
  // A release counts as a use (task 0 is now the most recent), so fill the cache with one new
  // task: everything else has to go, task 0 included.
  for (let piece = 0; piece < 3; piece++) await store.writePiece(taskId(4), piece, Buffer.alloc(PIECE_BYTES, 4));
  assert.ok(evicted.includes(taskId(0)), 'released: evictable again');
  assert.ok(evicted.includes(taskId(1)), 'no longer needed by the supernode: evictable again');
}));

test('pinned tasks alone over the limit: the store stays over, says so, and evicts them once released', withCache(async (make, evicted) => {
  const warnings: string[] = [];
  const store = make({ limit: { kind: 'bytes', maxBytes: 6 * MiB }, log: (level, m) => { if (level === 'warn') warnings.push(m); } });
  const release = store.pin(taskId(0));
  await store.writePiece(taskId(0), 0, Buffer.alloc(PIECE_BYTES, 0));
  await store.writePiece(taskId(0), 1, Buffer.alloc(PIECE_BYTES, 0));
  assert.equal(evicted, []);
  assert.ok(warnings.some((w) => /because the rest is being written or served/.test(w)), warnings.join('\n'));
  release();
  const pass = await store.enforceLimit();
  assert.equal(evicted, [taskId(0)]);
  assert.is(pass.remainingBytes, 0);
}));

test('a share of the disk: the cache shrinks when other data fills the filesystem, and survives a restart', withCache(async (make, evicted) => {
  let availableBytes = 1000 * MiB;
  const filesystemStats = async () => ({ filesystemBytes: 1000 * MiB, availableBytes });
  const store = make({ limit: { kind: 'disk-use', maxPercent: 90 }, filesystemStats });
  for (let i = 0; i < 4; i++) await store.writePiece(taskId(i), 0, Buffer.alloc(PIECE_BYTES, i));
  assert.equal(evicted, [], 'plenty of room');
  // Something else fills the disk to 95 %: the 90 % rule now wants the cache 50 MiB smaller than
  // the 16 MiB it holds, so it empties what it can (0 MiB), oldest first.
  availableBytes = 50 * MiB;
  const restarted = make({ limit: { kind: 'disk-use', maxPercent: 90 }, filesystemStats });
  const pass = await restarted.enforceLimit();
  assert.is(pass.limits.highBytes, 0);
  assert.equal(evicted, [0, 1, 2, 3].map(taskId));
  assert.is(dirSizeBytes(store.rootDir), 0);
}));

test.run();
