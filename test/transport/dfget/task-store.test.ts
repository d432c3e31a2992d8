/**
 * The resume record of a download (task-store.ts) is saved in batches, not per piece: what is
 * flushed is what a rerun resumes from, the record on disk never lists a piece before its bytes
 * were written, and a finished or discarded download leaves no record behind, even with a save
 * still due.
 */
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { pieceRange, type PiecePlan } from '../../../core/pieces.ts';
import { sleep } from '../../../transport/real-timer.ts';
import { META_SAVE_INTERVAL_MS, pieceDigest, TaskStore } from '../../../transport/dfget/task-store.ts';
import { removeDir, tempDir } from '../../../bench/testbed/processes.ts';
import { collectDataDir } from '../../../transport/uploader/data-gc.ts';
import { SET_ASIDE_NAME } from '../../../transport/uploader/control-messages.ts';

const TASK_ID = 'a'.repeat(64);
const PLAN: PiecePlan = { totalBytes: 10_000, pieceSizeBytes: 4096, pieceCount: 3 };
const CONTENT = Buffer.from(Array.from({ length: PLAN.totalBytes }, (_, i) => (i * 7) % 251));

function pieceOf(piece: number): Buffer {
  const { startByte, endByte } = pieceRange(PLAN, piece);
  return CONTENT.subarray(startByte, endByte);
}

async function openStore(dir: string): Promise<TaskStore> {
  return TaskStore.open(join(dir, 'data'), TASK_ID, 'http://origin.test/file', join(dir, 'out.bin'));
}

async function writePieces(store: TaskStore, pieces: number[]): Promise<void> {
  for (const piece of pieces) await store.writePiece(piece, pieceRange(PLAN, piece).startByte, pieceOf(piece), pieceDigest(pieceOf(piece)));
}

/** Run `body` with a fresh temp dir, removed afterwards. */
async function inTempDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = tempDir('task-store');
  try {
    await body(dir);
  } finally {
    removeDir(dir);
  }
}

function recordedPieces(store: TaskStore): number[] {
  if (!existsSync(store.metaPath)) return [];
  const meta = JSON.parse(readFileSync(store.metaPath, 'utf8')) as { digests: (string | null)[] };
  return meta.digests.flatMap((digest, piece) => (digest ? [piece] : []));
}

test('flushed pieces are what a rerun resumes; the record never lists an unwritten piece', () => inTempDir(async (dir) => {
  const store = await openStore(dir);
  await store.applyPlan(PLAN, false);
  await writePieces(store, [0, 2]);
  assert.ok(recordedPieces(store).every((piece) => piece === 0 || piece === 2), 'only written pieces are recorded');
  await store.flush();
  assert.equal(recordedPieces(store), [0, 2]);
  await store.closeWriter();
  const rerun = await openStore(dir);
  assert.equal(await rerun.resumable(), { plan: PLAN, have: [0, 2] });
}));

test('a finished download leaves no resume record, even with a save still due', () => inTempDir(async (dir) => {
  const store = await openStore(dir);
  await store.applyPlan(PLAN, false);
  await writePieces(store, [0, 1, 2]);
  let stamp: unknown = 'not called';
  assert.is(await store.finalize(join(dir, 'out.bin'), (outputStamp) => { stamp = outputStamp; }), null);
  // The seeding backup is the output under a second name, listed with the output's stamp.
  const output = statSync(join(dir, 'out.bin'), { bigint: true });
  assert.is(BigInt(statSync(store.serverPath).ino), output.ino);
  assert.equal(stamp, { sizeBytes: CONTENT.length, mtimeNs: output.mtimeNs.toString() });
  assert.ok(!existsSync(store.metaPath));
  // A save left due would write the record again once its interval passed.
  await sleep(2 * META_SAVE_INTERVAL_MS);
  assert.ok(!existsSync(store.metaPath), 'no record written after the download finished');
  assert.equal(readFileSync(join(dir, 'out.bin')), CONTENT);
}));

test('a second download of a task sets the older backup aside for the uploader instead of removing it itself', () => inTempDir(async (dir) => {
  for (let run = 0; run < 2; run++) {
    const store = await openStore(dir);
    await store.applyPlan(PLAN, false);
    await writePieces(store, [0, 1, 2]);
    assert.is(await store.finalize(join(dir, 'out.bin'), () => {}), null);
    if (run === 0) rmSync(join(dir, 'out.bin')); // the user removed the output: the backup is its last name
  }
  const store = await openStore(dir);
  const dataDir = join(dir, 'data');
  const setAside = readdirSync(dataDir).filter((name) => SET_ASIDE_NAME.test(name));
  assert.is(setAside.length, 1, `data dir holds ${readdirSync(dataDir).join(', ')}`);
  assert.equal(readFileSync(join(dataDir, setAside[0]!)), CONTENT, 'the older backup, whole, under its set-aside name');
  assert.is(BigInt(statSync(store.serverPath).ino), statSync(join(dir, 'out.bin'), { bigint: true }).ino, 'the backup is the new output');
  // The uploader's next pass removes it at once (a fresh file, not an hour old), and only it.
  const { removed } = await collectDataDir(dataDir, { inUse: new Set(), limit: null });
  assert.equal(removed, setAside);
  assert.equal(readdirSync(dataDir), [`${TASK_ID}.server`]);
}));

test('a discarded download leaves no resume record, even with a save still due', () => inTempDir(async (dir) => {
  const store = await openStore(dir);
  await store.applyPlan(PLAN, false);
  await writePieces(store, [1]);
  await store.discard();
  await sleep(2 * META_SAVE_INTERVAL_MS);
  assert.ok(!existsSync(store.metaPath));
  assert.ok(!existsSync(store.dataPath));
}));

test.run();
