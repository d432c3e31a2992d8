/**
 * The mirror in-process against a tiny fake registry and a scripted stand-in for dfget's
 * `download`, so streaming, fallback and digest checks are tested exactly, without Debian's
 * registry (the end-to-end tests with the real registry and skopeo are dfdaemon-registry-*.test.ts).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { DEFAULT_PEER_SETTINGS } from '../../../core/settings.ts';
import type { DownloadRequest, DownloadResult } from '../../../transport/dfget/download.ts';
import { resolveConfig } from '../../../transport/dfdaemon/options.ts';
import { startMirror, type MirrorHandle } from '../../../transport/dfdaemon/server.ts';
import { removeDir, tempDir } from '../../../bench/testbed/processes.ts';

const PIECE_BYTES = 64 * 1024;
const blob = randomBytes(5 * PIECE_BYTES + 1234);
const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
const BLOB_PATH = `/v2/team/app/blobs/${digest}`;

/** A registry that knows one blob, wants `Authorization: Bearer good` when `private`, counts GET bytes. */
async function fakeRegistry(opts: { private?: boolean } = {}) {
  let sentBytes = 0;
  const server = http.createServer((req, res) => {
    if (opts.private && req.headers.authorization !== 'Bearer good') {
      res.writeHead(401, { 'www-authenticate': 'Bearer realm="http://auth.example/token"', 'content-type': 'application/json' });
      res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
      return;
    }
    if (req.url !== BLOB_PATH) {
      res.writeHead(404, { 'content-type': 'application/json', 'x-registry': 'fake' }).end('{"errors":[{"code":"MANIFEST_UNKNOWN"}]}');
      return;
    }
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const from = range ? Number(range[1]) : 0;
    const body = blob.subarray(from);
    const headers: http.OutgoingHttpHeaders = { 'content-length': body.length, 'docker-content-digest': digest, etag: `"${digest}"` };
    if (range) headers['content-range'] = `bytes ${from}-${blob.length - 1}/${blob.length}`;
    res.writeHead(range ? 206 : 200, headers);
    if (req.method === 'HEAD') return res.end();
    sentBytes += body.length;
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    sentBytes: () => sentBytes,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

/**
 * A stand-in for dfget's download: writes pieces of `content` in `order`, each after `release()`
 * is called, then fails after `failAfter` pieces if set. Records the requests it got.
 */
function scriptedDownload(work: string, content: Buffer, script: { order: number[]; failAfter?: number }) {
  const requests: DownloadRequest[] = [];
  const gates: (() => void)[] = [];
  let released = 0;
  const waitTurn = (i: number) => new Promise<void>((resolve) => { if (i < released) resolve(); else gates[i] = resolve; });
  const download = async (req: DownloadRequest): Promise<DownloadResult> => {
    requests.push(req);
    const dataPath = join(work, `data-${requests.length}`);
    await fs.writeFile(dataPath, Buffer.alloc(content.length));
    const pieceCount = Math.ceil(content.length / PIECE_BYTES);
    req.onPlan?.({ totalBytes: content.length, pieceSizeBytes: PIECE_BYTES, pieceCount, dataPath });
    const handle = await fs.open(dataPath, 'r+');
    for (const [i, piece] of script.order.entries()) {
      await waitTurn(i);
      if (script.failAfter !== undefined && i >= script.failAfter) {
        await handle.close();
        throw new Error('scripted P2P failure');
      }
      const start = piece * PIECE_BYTES;
      const end = Math.min(start + PIECE_BYTES, content.length);
      await handle.write(content.subarray(start, end), 0, end - start, start);
      req.onPieceWritten?.(piece, start, end);
    }
    await handle.close();
    await fs.rename(dataPath, req.outputPath);
    return {
      taskId: 'f'.repeat(64), outputPath: req.outputPath, totalBytes: content.length,
      fileDigest: `sha256:${createHash('sha256').update(content).digest('hex')}`,
      fromPeersBytes: 0, fromSupernodeBytes: content.length, fromSourceBytes: 0, resumedPieces: 0, fetchedPieces: pieceCount, elapsedMs: 1,
      settings: { origin: 'supernode', ...DEFAULT_PEER_SETTINGS },
    };
  };
  return {
    download, requests,
    release(n = 1) { for (let k = 0; k < n; k++) { gates[released]?.(); released++; } },
  };
}

interface Received { status: number; headers: http.IncomingHttpHeaders; body: Buffer; error: string | null; firstByteBeforeEnd?: boolean }

function get(addr: string, path: string, headers: http.OutgoingHttpHeaders = {}, onFirstByte?: () => void): Promise<Received> {
  return new Promise((resolve) => {
    const req = http.get(`http://${addr}${path}`, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => { if (chunks.length === 0) onFirstByte?.(); chunks.push(c); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), error: null }));
      res.on('error', (err) => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), error: err.message }));
    });
    req.on('error', (err) => resolve({ status: 0, headers: {}, body: Buffer.alloc(0), error: err.message }));
  });
}

async function withMirror(
  registryUrl: string, download: (req: DownloadRequest) => Promise<DownloadResult>, extra: { fallback?: boolean },
  body: (mirror: MirrorHandle, localRepo: string, work: string) => Promise<void>,
): Promise<void> {
  const work = tempDir('dfdaemon-mirror');
  const config = resolveConfig({ port: '0', registry: registryUrl, home: join(work, 'home'), fallback: extra.fallback });
  const logs: string[] = [];
  const mirror = await startMirror({ config, download, log: (level, message) => logs.push(`${level} ${message}`) });
  try {
    await body(mirror, config.localRepoDir, work);
  } catch (err) {
    console.error(logs.join('\n'));
    throw err;
  } finally {
    await mirror.close();
    removeDir(work);
  }
}

test('a blob streams to the client as the verified prefix grows, before the download ends', async () => {
  const registry = await fakeRegistry();
  const work = tempDir('dfdaemon-script');
  // Pieces land out of order: 1 before 0, so nothing may be sent until 0 arrives.
  const script = scriptedDownload(work, blob, { order: [1, 0, 2, 3, 4, 5] });
  try {
    await withMirror(registry.url, script.download, {}, async (mirror, localRepo) => {
      let firstByte = false;
      const pending = get(mirror.addr, BLOB_PATH, { authorization: 'Basic dTpw' }, () => { firstByte = true; });
      await waitFor(() => script.requests.length === 1);
      script.release(1);
      await sleep(50);
      assert.not.ok(firstByte, 'piece 1 alone is not a prefix: nothing may be sent');
      script.release(1);
      await waitFor(() => firstByte);
      script.release(4);
      const res = await pending;
      assert.is(res.status, 200);
      assert.is(res.error, null);
      assert.ok(res.body.equals(blob), 'client got the exact blob');
      assert.is(res.headers['docker-content-digest'], digest);
      const req = script.requests[0];
      assert.is(req.digest, digest, 'the whole-file digest travels with the task');
      assert.equal(req.headers, { Authorization: 'Basic dTpw' }, 'the client credentials travel to the supernode');
      assert.is(req.url, `${registry.url}${BLOB_PATH}`);
      await waitFor(() => existsSync(join(localRepo, 'sha256', digest.slice(7))));
      assert.is(registry.sentBytes(), 0, 'the registry sent no blob bytes itself');
    });
  } finally {
    await registry.close();
    removeDir(work);
  }
});

test('clients asking for the same blob meanwhile share one P2P download, each gets the whole blob', async () => {
  const registry = await fakeRegistry();
  const work = tempDir('dfdaemon-script');
  const script = scriptedDownload(work, blob, { order: [2, 0, 1, 5, 3, 4] });
  try {
    await withMirror(registry.url, script.download, {}, async (mirror) => {
      const early = get(mirror.addr, BLOB_PATH);
      await waitFor(() => script.requests.length === 1);
      script.release(3);
      const late = get(mirror.addr, BLOB_PATH);
      await sleep(50);
      script.release(3);
      const results = await Promise.all([early, late]);
      for (const res of results) {
        assert.is(res.error, null);
        assert.ok(res.body.equals(blob));
      }
      assert.is(script.requests.length, 1, 'one download for both clients');
      assert.is(mirror.stats().blobsViaP2P, 2);
    });
  } finally {
    await registry.close();
    removeDir(work);
  }
});

test('P2P failing mid-blob: the rest comes from the registry by Range and the client sees one good body', async () => {
  const registry = await fakeRegistry();
  const work = tempDir('dfdaemon-script');
  const script = scriptedDownload(work, blob, { order: [0, 1, 2, 3, 4, 5], failAfter: 2 });
  try {
    await withMirror(registry.url, script.download, {}, async (mirror, localRepo) => {
      const pending = get(mirror.addr, BLOB_PATH);
      await waitFor(() => script.requests.length === 1);
      script.release(3);
      const res = await pending;
      assert.is(res.status, 200);
      assert.is(res.error, null);
      assert.ok(res.body.equals(blob));
      assert.is(registry.sentBytes(), blob.length - 2 * PIECE_BYTES, 'only the missing tail came from the registry');
      assert.is(mirror.stats().blobsViaFallback, 1);
      assert.not.ok(existsSync(join(localRepo, 'sha256', digest.slice(7))), 'a spliced copy is not kept');
    });
  } finally {
    await registry.close();
    removeDir(work);
  }
});

test('with --no-fallback a P2P failure after the headers breaks the connection', async () => {
  const registry = await fakeRegistry();
  const work = tempDir('dfdaemon-script');
  const script = scriptedDownload(work, blob, { order: [0, 1, 2, 3, 4, 5], failAfter: 1 });
  try {
    await withMirror(registry.url, script.download, { fallback: false }, async (mirror) => {
      const pending = get(mirror.addr, BLOB_PATH);
      await waitFor(() => script.requests.length === 1);
      script.release(2);
      const res = await pending;
      assert.is(res.status, 200);
      assert.ok(res.error !== null, 'the client sees a broken transfer, not a clean end');
      assert.ok(res.body.length < blob.length);
      assert.is(registry.sentBytes(), 0);
    });
  } finally {
    await registry.close();
    removeDir(work);
  }
});

test('bytes that do not match the digest end in a broken connection and are not kept', async () => {
  const registry = await fakeRegistry();
  const work = tempDir('dfdaemon-script');
  const bad = Buffer.from(blob);
  bad[bad.length - 1] ^= 0xff;
  const script = scriptedDownload(work, bad, { order: [0, 1, 2, 3, 4, 5] });
  try {
    await withMirror(registry.url, script.download, { fallback: false }, async (mirror, localRepo) => {
      const pending = get(mirror.addr, BLOB_PATH);
      await waitFor(() => script.requests.length === 1);
      script.release(6);
      const res = await pending;
      assert.ok(res.error !== null, 'a digest mismatch must not end cleanly');
      await sleep(50);
      assert.not.ok(existsSync(join(localRepo, 'sha256', digest.slice(7))), 'nothing corrupt in the local repo');
    });
  } finally {
    await registry.close();
    removeDir(work);
  }
});

test('a local copy gone bad on disk breaks that response, is removed, and the next request goes P2P', async () => {
  const registry = await fakeRegistry();
  const work = tempDir('dfdaemon-script');
  const script = scriptedDownload(work, blob, { order: [0, 1, 2, 3, 4, 5] });
  try {
    await withMirror(registry.url, script.download, {}, async (mirror, localRepo) => {
      const stored = join(localRepo, 'sha256', digest.slice(7));
      const rotten = Buffer.from(blob);
      rotten[1000] ^= 0x01;
      await fs.writeFile(stored, rotten);
      const broken = await get(mirror.addr, BLOB_PATH);
      assert.ok(broken.error !== null, 'bad bytes from disk must not end cleanly');
      await waitFor(() => !existsSync(stored));
      const pending = get(mirror.addr, BLOB_PATH);
      await waitFor(() => script.requests.length === 1);
      script.release(6);
      const res = await pending;
      assert.is(res.error, null);
      assert.ok(res.body.equals(blob));
    });
  } finally {
    await registry.close();
    removeDir(work);
  }
});

test('a client the registry refuses gets its 401 and no blob bytes, even when the blob is cached', async () => {
  const registry = await fakeRegistry({ private: true });
  const work = tempDir('dfdaemon-script');
  const script = scriptedDownload(work, blob, { order: [0, 1, 2, 3, 4, 5] });
  try {
    await withMirror(registry.url, script.download, {}, async (mirror, localRepo) => {
      const pending = get(mirror.addr, BLOB_PATH, { authorization: 'Bearer good' });
      await waitFor(() => script.requests.length === 1);
      script.release(6);
      const ok = await pending;
      assert.ok(ok.body.equals(blob));
      await waitFor(() => existsSync(join(localRepo, 'sha256', digest.slice(7))));
      for (const headers of [{}, { authorization: 'Bearer stolen' }]) {
        const refused = await get(mirror.addr, BLOB_PATH, headers);
        assert.is(refused.status, 401);
        assert.is(refused.headers['www-authenticate'], 'Bearer realm="http://auth.example/token"', 'the challenge passes through');
        assert.not.ok(refused.body.includes(blob.subarray(0, 32)), 'no blob bytes');
      }
      const again = await get(mirror.addr, BLOB_PATH, { authorization: 'Bearer good' });
      assert.ok(again.body.equals(blob));
      assert.is(mirror.stats().blobsFromLocalRepo, 1, JSON.stringify(mirror.stats()));
      assert.is(script.requests.length, 1);
    });
  } finally {
    await registry.close();
    removeDir(work);
  }
});

test('malformed digest is a registry-style 400; other answers pass through with their headers', async () => {
  const registry = await fakeRegistry();
  await withMirror(registry.url, () => Promise.reject(new Error('unused')), {}, async (mirror) => {
    const bad = await get(mirror.addr, '/v2/team/app/blobs/sha256:nothex');
    assert.is(bad.status, 400);
    assert.is(JSON.parse(bad.body.toString()).errors[0].code, 'DIGEST_INVALID');
    const missing = await get(mirror.addr, '/v2/team/app/manifests/nope');
    assert.is(missing.status, 404);
    assert.is(missing.headers['x-registry'], 'fake');
    assert.is(missing.body.toString(), '{"errors":[{"code":"MANIFEST_UNKNOWN"}]}');
  });
  await registry.close();
});

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met within 5 s');
    await sleep(5);
  }
}

test.run();
