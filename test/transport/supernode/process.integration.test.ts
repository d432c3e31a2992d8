/**
 * The real supernode process on 127.0.0.1 with a real origin: a scripted peer downloads through
 * it, and the origin's counters say what the CDN fetched.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { HttpOrigin, type OriginFileOptions } from '../../../bench/testbed/http-origin.ts';
import { taskIdFor } from '../../../transport/task-id.ts';
import { ProcessGroup, removeDir, tempDir, type RunningProcess } from '../../../bench/testbed/processes.ts';
import { ControlClient, DataClient, downloadThroughSupernode, sha256, TaskFailedError } from '../../helpers/supernode-peer.ts';

const PIECE_BYTES = 256 * 1024;
const FILE_A = Buffer.from(Array.from({ length: 5 * PIECE_BYTES + 777 }, (_, i) => (i * 13 + (i >> 11)) % 256));
const FILE_B = Buffer.from(FILE_A).reverse();
let peerCounter = 0;

interface Rig { origin: HttpOrigin; supernode: RunningProcess; home: string; procs: ProcessGroup }

// One supernode serves every test but the restart one (starting a process costs seconds);
// tests use their own file paths, and metrics are compared as deltas.
let shared: Rig | null = null;
/** An HTTPS origin whose self-signed certificate the supernode trusts (NODE_EXTRA_CA_CERTS); null without openssl. */
let httpsOrigin: HttpOrigin | null = null;

test.before(async () => {
  const origin = await HttpOrigin.start();
  const home = tempDir('supernode');
  const tls = await selfSignedCertificate(home);
  if (tls) httpsOrigin = await HttpOrigin.start({ tls });
  const procs = new ProcessGroup();
  const supernode = await procs.start('supernode', ['--home', home, '--piece-size-bytes', String(PIECE_BYTES), '--seed', 'test',
    '--source-timeout', '5s'], { portFlag: '--port', env: tls ? { NODE_EXTRA_CA_CERTS: tls.certPath } : {} });
  shared = { origin, supernode, home, procs };
});

test.after(async () => {
  if (!shared) return;
  await shared.procs.stopAll();
  await shared.origin.close();
  await httpsOrigin?.close();
  removeDir(shared.home);
});

async function selfSignedCertificate(dir: string): Promise<{ key: string; cert: string; certPath: string } | null> {
  const keyPath = join(dir, 'origin.key');
  const certPath = join(dir, 'origin.crt');
  try {
    await promisify(execFile)('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', keyPath, '-out', certPath]);
  } catch (err) {
    console.warn(`skipping the HTTPS source test: openssl failed (${(err as Error).message.split('\n')[0]}); install openssl`);
    return null;
  }
  return { key: readFileSync(keyPath, 'utf8'), cert: readFileSync(certPath, 'utf8'), certPath };
}

async function withSupernode(body: (rig: Rig) => Promise<void>): Promise<void> {
  const rig = shared!;
  rig.origin.resetStats();
  try {
    await body(rig);
  } catch (err) {
    rig.procs.printLogs();
    throw err;
  }
}

let pathCounter = 0;
function freshPath(): string { return `/file-${++pathCounter}.bin`; }

function peerId(): string { return `test-peer-${++peerCounter}`; }

async function metrics(rig: Rig, names: string[]): Promise<Record<string, number>> {
  const text = await (await fetch(`http://${rig.supernode.addr}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const name of names) {
    const line = text.split('\n').find((l) => l.startsWith(`${name} `));
    if (!line) throw new Error(`metric ${name} missing from:\n${text}`);
    out[name] = Number(line.split(' ')[1]);
  }
  return out;
}

async function download(rig: Rig, path: string, headers: Record<string, string> = {}) {
  return downloadThroughSupernode(rig.supernode.addr, { url: rig.origin.urlFor(path), headers }, peerId());
}

/**
 * A download, then wait until the CDN has finished the task (the whole-file digest comes a
 * moment after the last piece): only a finished task is revalidated by the next registration.
 */
async function downloadAndSettle(rig: Rig, path: string, headers: Record<string, string> = {}) {
  const name = 'supernode_cdn_fetches_completed_total';
  const before = (await metrics(rig, [name]))[name];
  const got = await download(rig, path, headers);
  const deadline = Date.now() + 10_000;
  while ((await metrics(rig, [name]))[name] === before) {
    if (Date.now() > deadline) throw new Error(`the CDN never finished ${path}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return got;
}

for (const [label, options] of [['with Range support', {}], ['without Range support', { acceptRanges: false }]] as [string, OriginFileOptions][]) {
  test(`a peer downloads through the supernode from a source ${label}`, () => withSupernode(async (rig) => {
    const path = freshPath();
    await rig.origin.put(path, FILE_A, options);
    const before = await metrics(rig, ['supernode_served_bytes_total', 'supernode_pieces_assigned_from_supernode_total',
      'supernode_source_bytes_total', 'supernode_tasks']);
    const got = await download(rig, path);
    assert.ok(got.bytes.equals(FILE_A), 'content equals the source');
    assert.is(got.info.pieceCount, 6);
    assert.is(got.info.totalBytes, FILE_A.length);
    assert.ok(rig.origin.bytesSentFor(path) <= FILE_A.length + 1, 'the source sent one copy');
    const after = await metrics(rig, Object.keys(before));
    assert.is(after.supernode_served_bytes_total - before.supernode_served_bytes_total, FILE_A.length);
    assert.is(after.supernode_pieces_assigned_from_supernode_total - before.supernode_pieces_assigned_from_supernode_total, 6);
    assert.ok(after.supernode_source_bytes_total - before.supernode_source_bytes_total >= FILE_A.length);
    assert.is(after.supernode_tasks - before.supernode_tasks, 1);
  }));
}

test('an empty file downloads as empty', () => withSupernode(async (rig) => {
  const path = freshPath();
  await rig.origin.put(path, Buffer.alloc(0));
  const got = await download(rig, path);
  assert.is(got.bytes.length, 0);
  assert.is(got.info.pieceCount, 0);
}));

test('an unchanged source is revalidated with one 304 and not fetched again', () => withSupernode(async (rig) => {
  const path = freshPath();
  await rig.origin.put(path, FILE_A);
  await downloadAndSettle(rig, path);
  rig.origin.resetStats();
  const second = await download(rig, path);
  assert.ok(second.bytes.equals(FILE_A));
  assert.is(rig.origin.stats.requests, 1, 'one request: the conditional GET');
  assert.is(rig.origin.stats.conditionalRequests, 1);
  assert.is(rig.origin.stats.notModified, 1);
  assert.is(rig.origin.stats.bytesSent, 0);
}));

test('a source changed between two registrations (new ETag) gives the new content', () => withSupernode(async (rig) => {
  const path = freshPath();
  await rig.origin.put(path, FILE_A);
  const first = await downloadAndSettle(rig, path);
  assert.ok(first.bytes.equals(FILE_A));
  await rig.origin.put(path, FILE_B);
  const second = await download(rig, path);
  assert.ok(second.bytes.equals(FILE_B), 'the second download has the new content');
  assert.is(second.info.fileDigest === undefined || second.info.fileDigest === sha256(FILE_B), true);
}));

test('a deleted cached piece is refetched once, not looped on', () => withSupernode(async (rig) => {
  const path = freshPath();
  await rig.origin.put(path, FILE_A);
  const first = await downloadAndSettle(rig, path);
  rmSync(join(rig.home, 'cdn', first.taskId, '2.piece'));
  rig.origin.resetStats();
  const lostBefore = (await metrics(rig, ['supernode_cdn_pieces_lost_total'])).supernode_cdn_pieces_lost_total;
  const second = await download(rig, path);
  assert.ok(second.bytes.equals(FILE_A));
  const lostAfter = (await metrics(rig, ['supernode_cdn_pieces_lost_total'])).supernode_cdn_pieces_lost_total;
  assert.is(lostAfter - lostBefore, 1);
  const pieceRequests = rig.origin.requests.filter((r) => r.range === `bytes=${2 * PIECE_BYTES}-${3 * PIECE_BYTES - 1}`);
  assert.is(pieceRequests.length, 1, 'the lost piece was fetched exactly once');
  assert.is(rig.origin.stats.bytesSent, PIECE_BYTES);
}));

test('404 and 401 reach the peer as task-failed with the status', () => withSupernode(async (rig) => {
  await rig.origin.put('/private.bin', FILE_A, { auth: { user: 'u', password: 'p' } });
  for (const [path, status, words] of [['/missing.bin', 404, /does not exist/], ['/private.bin', 401, /credentials/]] as const) {
    try {
      await download(rig, path);
      assert.unreachable(`${path} should fail`);
    } catch (err) {
      assert.instance(err, TaskFailedError);
      assert.is((err as TaskFailedError).status, status);
      assert.match((err as TaskFailedError).reason, words);
    }
  }
  const withCredentials = await download(rig, '/private.bin', { Authorization: `Basic ${Buffer.from('u:p').toString('base64')}` });
  assert.ok(withCredentials.bytes.equals(FILE_A));
}));

test('an HTTPS source is fetched like an HTTP one', () => withSupernode(async (rig) => {
  if (!httpsOrigin) return;
  await httpsOrigin.put('/tls.bin', FILE_A);
  const got = await downloadThroughSupernode(rig.supernode.addr, { url: httpsOrigin.urlFor('/tls.bin'), headers: {} }, peerId());
  assert.ok(got.bytes.equals(FILE_A));
  assert.ok(httpsOrigin.stats.bytesSent >= FILE_A.length);
}));

test('a cached task fetched with credentials makes later peers prove theirs', () => withSupernode(async (rig) => {
  const path = freshPath();
  await rig.origin.put(path, FILE_A, { auth: { user: 'u', password: 'p' } });
  const good = { Authorization: `Basic ${Buffer.from('u:p').toString('base64')}` };
  const wrong = { Authorization: `Basic ${Buffer.from('u:guess').toString('base64')}` };
  assert.ok((await downloadAndSettle(rig, path, good)).bytes.equals(FILE_A));
  try {
    await download(rig, path, wrong);
    assert.unreachable('wrong credentials must not get cached pieces');
  } catch (err) {
    assert.instance(err, TaskFailedError);
    assert.is((err as TaskFailedError).status, 403, 'the source refuses wrong credentials with 403; the peer sees that status');
  }
  try {
    await download(rig, path, {});
    assert.unreachable('no credentials must not get cached pieces');
  } catch (err) {
    assert.instance(err, TaskFailedError);
    assert.is((err as TaskFailedError).status, 401);
  }
  assert.ok((await download(rig, path, good)).bytes.equals(FILE_A), 'right credentials still work');
}));

test('a restarted supernode resumes its half-filled cache and fetches only what is missing', async () => {
  const origin = await HttpOrigin.start();
  const home = tempDir('supernode');
  const procs = new ProcessGroup();
  try {
    await origin.put('/a.bin', FILE_A);
    const args = ['--home', home, '--piece-size-bytes', String(PIECE_BYTES), '--seed', 'test'];
    const first = await procs.start('supernode', args, { portFlag: '--port' });
    const got = await downloadThroughSupernode(first.addr, { url: origin.urlFor('/a.bin'), headers: {} }, peerId());
    const connected = await ControlClient.connect(first.addr, peerId());
    assert.equal(await first.stop(), { code: 0, signal: null }, 'SIGTERM is a clean exit');
    assert.is((await connected.closed).code, 1001, 'peers are told the supernode is going away');
    rmSync(join(home, 'cdn', got.taskId, '4.piece'));
    origin.resetStats();
    const second = await procs.start('supernode', args, { portFlag: '--port' });
    const again = await downloadThroughSupernode(second.addr, { url: origin.urlFor('/a.bin'), headers: {} }, peerId());
    assert.ok(again.bytes.equals(FILE_A));
    assert.is(origin.stats.notModified, 1);
    assert.is(origin.stats.bytesSent, PIECE_BYTES, 'only the missing piece came from the source');
    assert.ok(readdirSync(join(home, 'logs')).includes('supernode.log'));
  } catch (err) {
    procs.printLogs();
    throw err;
  } finally {
    await procs.stopAll();
    await origin.close();
    removeDir(home);
  }
});

test('no request reaches outside a task: malformed taskIds are refused, ids must match the URL', () => withSupernode(async (rig) => {
  const path = freshPath();
  await rig.origin.put(path, FILE_A);
  const got = await download(rig, path);
  const data = await DataClient.connect(rig.supernode.addr);
  for (const taskId of ['../../../../etc/passwd', `${got.taskId}/../x`, 'meta.json', got.taskId.toUpperCase()]) {
    assert.equal(await data.request(taskId, 0), { kind: 'refused', reason: 'missing' }, taskId);
  }
  assert.equal(await data.request(got.taskId, 6), { kind: 'refused', reason: 'missing' }, 'piece past the end');
  const ok = await data.request(got.taskId, 0);
  assert.is(ok.kind, 'data');
  data.close();

  const control = await ControlClient.connect(rig.supernode.addr, peerId());
  control.send({ kind: 'register', taskId: '../x', task: { url: rig.origin.urlFor('/a.bin'), headers: {} }, uploadAddr: '127.0.0.1:1', have: [], blacklist: [], pattern: 'p2p' });
  const bad = await control.next();
  assert.is(bad.kind, 'task-failed');
  const otherId = taskIdFor({ url: rig.origin.urlFor('/other.bin') });
  control.send({ kind: 'register', taskId: otherId, task: { url: rig.origin.urlFor('/a.bin'), headers: {} }, uploadAddr: '127.0.0.1:1', have: [], blacklist: [], pattern: 'p2p' });
  const mismatch = await control.next();
  assert.is(mismatch.kind, 'task-failed');
  if (mismatch.kind === 'task-failed') assert.match(mismatch.reason, /does not match/);
  control.close();
}));

test('a second live connection with the same peerId is closed with 4409', () => withSupernode(async (rig) => {
  const id = peerId();
  const first = await ControlClient.connect(rig.supernode.addr, id);
  const second = await ControlClient.connect(rig.supernode.addr, id);
  assert.is((await second.closed).code, 4409);
  first.close();
  const res = await fetch(`http://${rig.supernode.addr}/peer?peerId=@supernode`, { headers: { connection: 'upgrade', upgrade: 'websocket' } }).catch(() => null);
  assert.ok(res === null || res.status === 400, 'a reserved peerId is refused');
}));

test.run();
