import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { TokenBucket } from '../../../core/token-bucket.ts';
import type { SupernodeInput } from '../../../core/supernode-io.ts';
import type { TaskSpec } from '../../../core/protocol.ts';
import { Cdn } from '../../../transport/cdn/cdn.ts';
import { CdnStore } from '../../../transport/cdn/cdn-store.ts';
import { SourceClient } from '../../../transport/cdn/source-client.ts';
import { BufferPool } from '../../../transport/buffer-pool.ts';
import { HttpOrigin, type OriginFileOptions } from '../../../bench/testbed/http-origin.ts';
import { removeDir, tempDir } from '../../../bench/testbed/processes.ts';

const PIECE_BYTES = 64 * 1024;
const FILE = Buffer.from(Array.from({ length: 10 * PIECE_BYTES + 1234 }, (_, i) => (i * 7 + (i >> 9)) % 256));
const PIECES = Math.ceil(FILE.length / PIECE_BYTES);
const TASK = 'c0'.repeat(32);

function sha(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

interface Rig { origin: HttpOrigin; home: string; cdn: Cdn; inputs: SupernodeInput[]; spec: TaskSpec; client: SourceClient }

function makeCdn(home: string, inputs: SupernodeInput[], timeoutMs = 5000, attempts = 3): { cdn: Cdn; client: SourceClient } {
  const client = new SourceClient({ timeoutMs, limitIn: new TokenBucket(0) });
  const cdn = new Cdn({
    store: new CdnStore(join(home, 'cdn')), client, feed: (input) => inputs.push(input), log: () => undefined,
    core: { sourceFetchConcurrency: 2, sourceFetchAttempts: attempts, sourceRetryDelayMs: 10 }, pool: new BufferPool(8 * 1024 * 1024),
  });
  return { cdn, client };
}

async function withRig(options: OriginFileOptions, body: (rig: Rig) => Promise<void>, rateBytesPerSec = 0): Promise<void> {
  const origin = await HttpOrigin.start({ rateBytesPerSec });
  const home = tempDir('cdn');
  try {
    await origin.put('/file.bin', FILE, options);
    const inputs: SupernodeInput[] = [];
    const { cdn, client } = makeCdn(home, inputs);
    await body({ origin, home, cdn, inputs, client, spec: { url: origin.urlFor('/file.bin'), headers: {} } });
  } finally {
    await origin.close();
    removeDir(home);
  }
}

async function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function find<K extends SupernodeInput['kind']>(inputs: SupernodeInput[], kind: K): Extract<SupernodeInput, { kind: K }> | undefined {
  return inputs.find((i) => i.kind === kind) as Extract<SupernodeInput, { kind: K }> | undefined;
}

function fetchEffect(spec: TaskSpec) {
  return { kind: 'cdn-fetch' as const, taskId: TASK, task: spec, pieceSizeBytes: PIECE_BYTES };
}

async function fetchAll(rig: Rig): Promise<void> {
  rig.cdn.handle(fetchEffect(rig.spec));
  await waitFor('the end of the fetch', () => find(rig.inputs, 'cdn-done') ?? find(rig.inputs, 'cdn-failed'));
}

/** A second CDN on the rig's home (a restarted supernode) fetches the task; the origin's counters start from zero. */
async function fetchAfterRestart(rig: Rig): Promise<void> {
  rig.origin.resetStats();
  const inputs: SupernodeInput[] = [];
  const { cdn } = makeCdn(rig.home, inputs);
  cdn.handle(fetchEffect(rig.spec));
  await waitFor('the end', () => find(inputs, 'cdn-done') ?? find(inputs, 'cdn-failed'));
  assertWholeFile(inputs);
}

function assertWholeFile(inputs: SupernodeInput[]): void {
  const failed = find(inputs, 'cdn-failed');
  assert.is(failed, undefined, failed?.reason);
  assert.equal(find(inputs, 'cdn-length'), { kind: 'cdn-length', taskId: TASK, totalBytes: FILE.length });
  const pieces = inputs.filter((i) => i.kind === 'cdn-piece') as Extract<SupernodeInput, { kind: 'cdn-piece' }>[];
  assert.equal([...new Set(pieces.map((p) => p.piece))].sort((a, b) => a - b), Array.from({ length: PIECES }, (_, i) => i));
  for (const p of pieces) assert.is(p.digest, sha(FILE.subarray(p.piece * PIECE_BYTES, (p.piece + 1) * PIECE_BYTES)));
  assert.equal(find(inputs, 'cdn-done'), { kind: 'cdn-done', taskId: TASK, totalBytes: FILE.length, fileDigest: sha(FILE) });
}

test('a Range-capable source is fetched piece by piece with the right digests', () => withRig({}, async (rig) => {
  await fetchAll(rig);
  assertWholeFile(rig.inputs);
  assert.is(rig.origin.requests.filter((r) => r.status === 206).length, 1 + 2, 'the probe, then one range per parallel run');
  assert.is(rig.origin.stats.bytesSent, FILE.length + 1, 'the file once, plus the one-byte probe');
  assert.is(rig.client.bytesFromSource, FILE.length, 'the probe byte is discarded unread');
}));

test('a source without Range support is cut into pieces from one stream', () => withRig({ acceptRanges: false }, async (rig) => {
  await fetchAll(rig);
  assertWholeFile(rig.inputs);
  assert.is(rig.origin.stats.requests, 1);
}));

test('a source without Range or length is spooled, then cut', () => withRig({ acceptRanges: false, hideLength: true }, async (rig) => {
  await fetchAll(rig);
  assertWholeFile(rig.inputs);
}));

test('pieces are announced before the whole file has left the source', () => withRig({}, async (rig) => {
  rig.cdn.handle(fetchEffect(rig.spec));
  await waitFor('a first piece', () => find(rig.inputs, 'cdn-piece'));
  const sentAtFirstPiece = rig.origin.stats.bytesSent;
  assert.ok(sentAtFirstPiece < FILE.length, `origin had sent ${sentAtFirstPiece} of ${FILE.length} bytes`);
  await waitFor('the end', () => find(rig.inputs, 'cdn-done'));
}, 2 * 1024 * 1024));

test('a body cut mid-way is fetched again and completes', () => withRig({ acceptRanges: false, dropAfterBytes: 100_000, dropTimes: 1 }, async (rig) => {
  await fetchAll(rig);
  assertWholeFile(rig.inputs);
  // The cut stream, a 304 revalidating what it left on disk, then the whole stream again.
  assert.is(rig.origin.stats.requests, 3);
  assert.is(rig.origin.stats.notModified, 1);
  assert.is(rig.origin.stats.bytesSent, 100_000 + FILE.length);
}));

test('404 and 401 fail the task with the status', async () => {
  for (const [options, status] of [[{ auth: { user: 'u', password: 'p' } }, 401]] as const) {
    await withRig(options, async (rig) => {
      await fetchAll(rig);
      const failed = find(rig.inputs, 'cdn-failed');
      assert.is(failed?.status, status);
      assert.match(failed!.reason, /credentials/);
    });
  }
  await withRig({}, async (rig) => {
    rig.cdn.handle(fetchEffect({ url: rig.origin.urlFor('/missing'), headers: {} }));
    const failed = await waitFor('the failure', () => find(rig.inputs, 'cdn-failed'));
    assert.is(failed.status, 404);
    assert.match(failed.reason, /does not exist/);
    assert.is(rig.origin.stats.requests, 1, 'a 404 is not retried');
  });
});

test('credentials in the task headers reach the source', () => withRig({ auth: { user: 'u', password: 'p' } }, async (rig) => {
  rig.spec = { ...rig.spec, headers: { Authorization: `Basic ${Buffer.from('u:p').toString('base64')}` } };
  await fetchAll(rig);
  assertWholeFile(rig.inputs);
}));

test('redirects are followed; credentials go only to the same host', () => withRig({ auth: { user: 'u', password: 'p' } }, async (rig) => {
  const authorization = `Basic ${Buffer.from('u:p').toString('base64')}`;
  rig.origin.redirect('/moved.bin', '/file.bin');
  rig.spec = { url: rig.origin.urlFor('/moved.bin'), headers: { authorization } };
  await fetchAll(rig);
  assertWholeFile(rig.inputs);
  const elsewhere = await HttpOrigin.start();
  const otherHome = tempDir('cdn-redirect');
  try {
    elsewhere.redirect('/file.bin', rig.origin.urlFor('/file.bin'));
    const inputs: SupernodeInput[] = [];
    const { cdn } = makeCdn(otherHome, inputs);
    cdn.handle({ kind: 'cdn-fetch', taskId: 'd0'.repeat(32), task: { url: elsewhere.urlFor('/file.bin'), headers: { authorization } }, pieceSizeBytes: PIECE_BYTES });
    const failed = await waitFor('the failure', () => find(inputs, 'cdn-failed'));
    assert.is(failed.status, 401, 'the other host never saw the credentials');
  } finally {
    await elsewhere.close();
    removeDir(otherHome);
  }
}));

test('a stalled source times out after bounded retries', () => withRig({ stallMs: 1500 }, async (rig) => {
  const { cdn } = makeCdn(rig.home, rig.inputs, 200, 2);
  cdn.handle(fetchEffect(rig.spec));
  const failed = await waitFor('the failure', () => find(rig.inputs, 'cdn-failed'));
  assert.match(failed.reason, /sent nothing for 200 ms/);
  assert.is(rig.origin.stats.requests, 2);
}));

test('a source that changed since the cache was filled fails a refetch instead of mixing contents', () => withRig({}, async (rig) => {
  await fetchAll(rig);
  await rig.origin.put('/file.bin', Buffer.from(FILE).reverse());
  rmSync(join(rig.home, 'cdn', TASK, '4.piece'));
  assert.is(await rig.cdn.servePiece(TASK, 4), null);
  rig.cdn.handle({ kind: 'cdn-refetch-piece', taskId: TASK, piece: 4 });
  const failed = await waitFor('the failure', () => find(rig.inputs, 'cdn-failed'));
  assert.match(failed.reason, /changed during the fetch/);
  assert.is(rig.inputs.filter((i) => i.kind === 'cdn-piece').length, PIECES, 'no piece of the new content was announced');
}));

test('a restarted CDN whose source changed starts over with the new content', () => withRig({}, async (rig) => {
  await fetchAll(rig);
  rmSync(join(rig.home, 'cdn', TASK, '2.piece'));
  const changed = Buffer.from(FILE).reverse();
  await rig.origin.put('/file.bin', changed);
  const inputs: SupernodeInput[] = [];
  const { cdn } = makeCdn(rig.home, inputs);
  cdn.handle(fetchEffect(rig.spec));
  const done = await waitFor('the end', () => find(inputs, 'cdn-done') ?? find(inputs, 'cdn-failed'));
  assert.equal(done, { kind: 'cdn-done', taskId: TASK, totalBytes: changed.length, fileDigest: sha(changed) });
}));

test('revalidation: unchanged → one conditional request answered 304; changed → changed', () => withRig({}, async (rig) => {
  await fetchAll(rig);
  rig.origin.resetStats();
  rig.cdn.handle({ kind: 'cdn-revalidate', taskId: TASK, task: rig.spec });
  const same = await waitFor('validation', () => find(rig.inputs, 'cdn-validated'));
  assert.is(same.changed, false);
  assert.equal(rig.origin.stats, { requests: 1, bytesSent: 0, notModified: 1, rangeRequests: 1, conditionalRequests: 1 });
  rig.inputs.length = 0;
  await rig.origin.put('/file.bin', Buffer.from('new content'));
  rig.cdn.handle({ kind: 'cdn-revalidate', taskId: TASK, task: rig.spec });
  const changed = await waitFor('validation', () => find(rig.inputs, 'cdn-validated'));
  assert.is(changed.changed, true);
}));

test('a deleted piece is reported lost once, refetched by range, then served', () => withRig({}, async (rig) => {
  await fetchAll(rig);
  rmSync(join(rig.home, 'cdn', TASK, '3.piece'));
  assert.is(await rig.cdn.servePiece(TASK, 3), null);
  assert.equal(rig.inputs.filter((i) => i.kind === 'cdn-piece-lost'), [{ kind: 'cdn-piece-lost', taskId: TASK, piece: 3 }]);
  rig.inputs.length = 0;
  rig.origin.resetStats();
  rig.cdn.handle({ kind: 'cdn-refetch-piece', taskId: TASK, piece: 3 });
  const again = await waitFor('the refetched piece', () => find(rig.inputs, 'cdn-piece'));
  assert.is(again.piece, 3);
  assert.is(rig.origin.stats.bytesSent, PIECE_BYTES);
  const bytes = await rig.cdn.servePiece(TASK, 3);
  assert.ok(bytes?.equals(FILE.subarray(3 * PIECE_BYTES, 4 * PIECE_BYTES)));
  rig.inputs.length = 0;
  rig.cdn.handle({ kind: 'cdn-revalidate', taskId: TASK, task: rig.spec });
  const validated = await waitFor('validation', () => find(rig.inputs, 'cdn-validated'));
  assert.is(validated.changed, false, 'the cache is whole again, not refetched');
}));

test('a source without ranges: a lost piece comes back from one more stream, and the cache stays whole', () => withRig({ acceptRanges: false }, async (rig) => {
  await fetchAll(rig);
  rmSync(join(rig.home, 'cdn', TASK, '5.piece'));
  assert.is(await rig.cdn.servePiece(TASK, 5), null);
  rig.inputs.length = 0;
  rig.origin.resetStats();
  rig.cdn.handle({ kind: 'cdn-refetch-piece', taskId: TASK, piece: 5 });
  const again = await waitFor('the refetched piece', () => rig.inputs.find((i) => i.kind === 'cdn-piece' && i.piece === 5));
  assert.ok(again);
  assert.is(rig.origin.stats.requests, 1);
  assert.ok((await rig.cdn.servePiece(TASK, 5))?.equals(FILE.subarray(5 * PIECE_BYTES, 6 * PIECE_BYTES)));
  rig.inputs.length = 0;
  rig.cdn.handle({ kind: 'cdn-revalidate', taskId: TASK, task: rig.spec });
  assert.is((await waitFor('validation', () => find(rig.inputs, 'cdn-validated'))).changed, false);
}));

test('a corrupt piece is detected before serving', () => withRig({}, async (rig) => {
  await fetchAll(rig);
  const { writeFileSync } = await import('node:fs');
  writeFileSync(join(rig.home, 'cdn', TASK, '0.piece'), Buffer.alloc(PIECE_BYTES, 1));
  assert.is(await rig.cdn.servePiece(TASK, 0), null);
  assert.ok(find(rig.inputs, 'cdn-piece-lost'));
}));

test('a restarted CDN resumes: verifies pieces on disk and fetches only the missing ones', () => withRig({}, async (rig) => {
  await fetchAll(rig);
  rmSync(join(rig.home, 'cdn', TASK, '1.piece'));
  rmSync(join(rig.home, 'cdn', TASK, '7.piece'));
  await fetchAfterRestart(rig);
  assert.is(rig.origin.stats.notModified, 1);
  assert.is(rig.origin.stats.bytesSent, 2 * PIECE_BYTES);
}));

test('a CDN closed mid-fetch (shutdown) records every piece it stored, so a restart fetches only the rest', () => withRig({}, async (rig) => {
  rig.cdn.handle(fetchEffect(rig.spec));
  // At 1 MiB/s a 64 KiB piece lands every ~60 ms: the third comes before the first delayed meta write (250 ms).
  await waitFor('three stored pieces', () => (rig.inputs.filter((i) => i.kind === 'cdn-piece').length >= 3 ? true : undefined));
  await rig.cdn.close();
  const announced = new Set(rig.inputs.filter((i) => i.kind === 'cdn-piece').map((i) => (i as Extract<SupernodeInput, { kind: 'cdn-piece' }>).piece));
  const meta = await new CdnStore(join(rig.home, 'cdn')).loadMeta(TASK);
  assert.ok(meta, 'the meta file exists');
  const recorded = new Set(meta!.pieces.flatMap((record, piece) => (record ? [piece] : [])));
  for (const piece of announced) assert.ok(recorded.has(piece), `piece ${piece} was announced but not recorded (recorded: ${[...recorded].join(', ')})`);
  await fetchAfterRestart(rig);
  // What is not recorded, and the probe's byte. The last piece is short (1234 bytes): with two
  // runs fetched at once it can be among the first stored, so count each recorded piece's own size.
  const recordedBytes = [...recorded].reduce((sum, piece) => sum + Math.min(PIECE_BYTES, FILE.length - piece * PIECE_BYTES), 0);
  assert.ok(rig.origin.stats.bytesSent <= FILE.length - recordedBytes + 1,
    `${rig.origin.stats.bytesSent} bytes fetched again (recorded pieces ${[...recorded].join(', ')})`);
}, 1024 * 1024));

test('check-auth asks the source with the requester headers', () => withRig({ auth: { user: 'u', password: 'p' } }, async (rig) => {
  const good = { ...rig.spec, headers: { authorization: `Basic ${Buffer.from('u:p').toString('base64')}` } };
  rig.cdn.handle({ kind: 'check-auth', taskId: TASK, peerId: 'good', task: good });
  rig.cdn.handle({ kind: 'check-auth', taskId: TASK, peerId: 'bad', task: rig.spec });
  await waitFor('two answers', () => (rig.inputs.length === 2 ? true : undefined));
  const byPeer = new Map(rig.inputs.map((i) => [(i as Extract<SupernodeInput, { kind: 'auth-result' }>).peerId, i]));
  assert.equal(byPeer.get('good'), { kind: 'auth-result', taskId: TASK, peerId: 'good', allowed: true });
  const bad = byPeer.get('bad') as Extract<SupernodeInput, { kind: 'auth-result' }>;
  assert.is(bad.allowed, false);
  assert.match(bad.reason ?? '', /401/);
}));

test('a drop mid-fetch silences the old job and removes the cache', () => withRig({}, async (rig) => {
  rig.cdn.handle(fetchEffect(rig.spec));
  await waitFor('a first piece', () => find(rig.inputs, 'cdn-piece'));
  rig.cdn.handle({ kind: 'cdn-drop', taskId: TASK });
  const countAtDrop = rig.inputs.length;
  await new Promise((r) => setTimeout(r, 300));
  assert.is(rig.inputs.length, countAtDrop);
  assert.is(rig.cdn.pieceCountOf(TASK), null);
  assert.is(rig.cdn.trackedTasks, 0, 'a dropped task is forgotten');
}, 1024 * 1024));

test.run();
