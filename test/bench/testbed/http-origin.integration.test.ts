import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HttpOrigin, parseRange } from '../../../bench/testbed/http-origin.ts';
import { removeDir, tempDir } from '../../../bench/testbed/processes.ts';

const CONTENT = Buffer.from(Array.from({ length: 300_000 }, (_, i) => i % 251));

async function withOrigin(body: (origin: HttpOrigin) => Promise<void>): Promise<void> {
  const origin = await HttpOrigin.start();
  try { await body(origin); } finally { await origin.close(); }
}

test('parseRange handles the single-range forms', () => {
  assert.equal(parseRange('bytes=0-9', 100), { start: 0, end: 10 });
  assert.equal(parseRange('bytes=90-', 100), { start: 90, end: 100 });
  assert.equal(parseRange('bytes=-10', 100), { start: 90, end: 100 });
  assert.equal(parseRange('bytes=50-500', 100), { start: 50, end: 100 });
  assert.is(parseRange('bytes=100-', 100), 'unsatisfiable');
  assert.is(parseRange('bytes=0-1,5-6', 100), null);
  assert.is(parseRange('items=0-1', 100), null);
});

test('full GET, range GET, HEAD and byte counting', () => withOrigin(async (origin) => {
  await origin.put('/f.bin', CONTENT);
  const full = await fetch(origin.urlFor('/f.bin'));
  assert.is(full.status, 200);
  assert.is(full.headers.get('accept-ranges'), 'bytes');
  assert.ok(Buffer.from(await full.arrayBuffer()).equals(CONTENT));
  const part = await fetch(origin.urlFor('/f.bin'), { headers: { range: 'bytes=100-199' } });
  assert.is(part.status, 206);
  assert.is(part.headers.get('content-range'), `bytes 100-199/${CONTENT.length}`);
  assert.ok(Buffer.from(await part.arrayBuffer()).equals(CONTENT.subarray(100, 200)));
  const head = await fetch(origin.urlFor('/f.bin'), { method: 'HEAD' });
  assert.is(head.headers.get('content-length'), String(CONTENT.length));
  assert.is(origin.stats.requests, 3);
  assert.is(origin.stats.bytesSent, CONTENT.length + 100);
  assert.is(origin.bytesSentFor('/f.bin'), CONTENT.length + 100);
  assert.is((await fetch(origin.urlFor('/nope'))).status, 404);
}));

test('range support can be switched off and the length hidden', () => withOrigin(async (origin) => {
  await origin.put('/f.bin', CONTENT, { acceptRanges: false, hideLength: true });
  const res = await fetch(origin.urlFor('/f.bin'), { headers: { range: 'bytes=0-9' } });
  assert.is(res.status, 200);
  assert.is(res.headers.get('accept-ranges'), null);
  assert.is(res.headers.get('content-length'), null);
  assert.is((await res.arrayBuffer()).byteLength, CONTENT.length);
}));

test('conditional requests: 304 while unchanged, 200 after a change; If-Range guards ranges', () => withOrigin(async (origin) => {
  await origin.put('/f.bin', CONTENT);
  const first = await fetch(origin.urlFor('/f.bin'), { method: 'HEAD' });
  const etag = first.headers.get('etag')!;
  const lastModified = first.headers.get('last-modified')!;
  assert.is((await fetch(origin.urlFor('/f.bin'), { headers: { 'if-none-match': etag } })).status, 304);
  assert.is((await fetch(origin.urlFor('/f.bin'), { headers: { 'if-modified-since': lastModified } })).status, 304);
  await origin.put('/f.bin', Buffer.from('new content'));
  assert.is.not(origin.etagOf('/f.bin'), etag);
  const changed = await fetch(origin.urlFor('/f.bin'), { headers: { 'if-none-match': etag } });
  assert.is(changed.status, 200);
  assert.is(await changed.text(), 'new content');
  assert.is((await fetch(origin.urlFor('/f.bin'), { headers: { 'if-modified-since': lastModified } })).status, 200);
  const guarded = await fetch(origin.urlFor('/f.bin'), { headers: { range: 'bytes=0-2', 'if-range': etag } });
  assert.is(guarded.status, 200);
  await guarded.arrayBuffer();
  assert.is(origin.stats.notModified, 2);
  assert.is(origin.stats.conditionalRequests, 4);
}));

test('Basic auth: 401 without credentials, 403 with wrong ones, 200 with right ones', () => withOrigin(async (origin) => {
  await origin.put('/private', CONTENT, { auth: { user: 'alice', password: 's3cret' } });
  assert.is((await fetch(origin.urlFor('/private'))).status, 401);
  const wrong = `Basic ${Buffer.from('alice:nope').toString('base64')}`;
  assert.is((await fetch(origin.urlFor('/private'), { headers: { authorization: wrong } })).status, 403);
  const right = `Basic ${Buffer.from('alice:s3cret').toString('base64')}`;
  const ok = await fetch(origin.urlFor('/private'), { headers: { authorization: right } });
  assert.is(ok.status, 200);
  await ok.arrayBuffer();
}));

test('a cut body reaches the client short, then the next response is whole', () => withOrigin(async (origin) => {
  await origin.put('/f.bin', CONTENT, { dropAfterBytes: 1000, dropTimes: 1 });
  const cut = await fetch(origin.urlFor('/f.bin'));
  let failed = false;
  try { await cut.arrayBuffer(); } catch { failed = true; }
  assert.ok(failed, 'reading a cut body must fail');
  assert.is(origin.stats.bytesSent, 1000);
  const whole = await fetch(origin.urlFor('/f.bin'));
  assert.is((await whole.arrayBuffer()).byteLength, CONTENT.length);
}));

test('files on disk are served by range', () => withOrigin(async (origin) => {
  const dir = tempDir('origin');
  try {
    const filePath = join(dir, 'big.bin');
    writeFileSync(filePath, CONTENT);
    await origin.put('/big.bin', { filePath });
    const part = await fetch(origin.urlFor('/big.bin'), { headers: { range: 'bytes=1000-' } });
    assert.ok(Buffer.from(await part.arrayBuffer()).equals(CONTENT.subarray(1000)));
  } finally {
    removeDir(dir);
  }
}));

test('the egress cap paces bodies (bytes counted, never timed)', async () => {
  const origin = await HttpOrigin.start({ rateBytesPerSec: 4 * 1024 * 1024 });
  try {
    await origin.put('/f.bin', CONTENT);
    const bodies = await Promise.all([0, 1].map(async () => (await fetch(origin.urlFor('/f.bin'))).arrayBuffer()));
    for (const body of bodies) assert.is(body.byteLength, CONTENT.length);
    assert.is(origin.stats.bytesSent, 2 * CONTENT.length);
  } finally {
    await origin.close();
  }
});

test('resetStats counts only the requests that begin after it, even while an older body is still being sent', async () => {
  // At 1 MiB/s the 300 kB body takes about 0.3 s: the reset falls in the middle of it.
  const origin = await HttpOrigin.start({ rateBytesPerSec: 1024 * 1024 });
  try {
    await origin.put('/f.bin', CONTENT);
    const res = await fetch(origin.urlFor('/f.bin'));
    const reader = res.body!.getReader();
    const first = await reader.read();
    assert.ok(!first.done && first.value.byteLength < CONTENT.length, 'the body is still arriving');
    origin.resetStats();
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) { /* drain the rest */ }
    assert.is(origin.stats.bytesSent, 0, 'the older response is not counted after the reset');
    assert.is(origin.requests.length, 0);
    const part = await fetch(origin.urlFor('/f.bin'), { headers: { range: 'bytes=0-99' } });
    await part.arrayBuffer();
    assert.is(origin.stats.bytesSent, 100);
  } finally {
    await origin.close();
  }
});

test.run();
