/**
 * The loopback control channel between a download and its home's uploader: the supernode's
 * settings a download hands over set the uploader's slots and unlist time; pieces listed over it
 * are served on the data plane; a task the uploader dropped after going unused is listed again,
 * with every piece, on the next update; bad settings and a wrong token are refused.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocket } from 'ws';
import { DEFAULT_PEER_SETTINGS } from '../../../core/settings.ts';
import { UploaderLink } from '../../../transport/dfget/uploader-link.ts';
import { homeLayout, prepareHome } from '../../../transport/dfget/home.ts';
import { startUploader } from '../../../transport/uploader/uploader-server.ts';
import { decodePieceFrame } from '../../../transport/wire.ts';
import { GrantKey } from '../../../transport/grants.ts';
import { monotonicNowMs } from '../../../transport/real-timer.ts';
import { removeDir, tempDir, waitFor } from '../../../bench/testbed/processes.ts';
import { stopUploaderOf } from '../../../bench/testbed/stop-uploader.ts';
import { pidAlive, readLock } from '../../../transport/uploader/uploader-lock.ts';

const PIECE_BYTES = 1024;
const TASK_ID = createHash('sha256').update('uploader-control').digest('hex');
const FILE_NAME = `${TASK_ID}-0123456789abcdef`;
const key = GrantKey.generate();
const GRANT = key.issue({ taskId: TASK_ID, peer: 'tester', expiresAtMs: monotonicNowMs() + 3_600_000, signature: '' });

function request(addr: string, piece: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://${addr}/data`);
    ws.on('open', () => ws.send(JSON.stringify({ kind: 'piece-request', requestId: 7, taskId: TASK_ID, piece, grant: GRANT })));
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      ws.close();
      if (!isBinary) return resolve(JSON.parse(data.toString()).reason as string);
      const frame = decodePieceFrame(data);
      resolve(frame.ok ? `piece ${frame.header.piece}: ${frame.bytes.length} bytes` : 'bad frame');
    });
    ws.on('error', reject);
  });
}

test('settings and pieces sent over the control channel take effect; an unlisted task is listed again in full', async () => {
  const home = tempDir('uploader-control');
  const uploader = await startUploader({ homeDir: home, host: '127.0.0.1', port: 0, idleExitMs: 0 });
  const link = new UploaderLink({ homeDir: home, host: '127.0.0.1', totalLimitBytesPerSec: 0, idleExit: '1min' }, () => {});
  try {
    writeFileSync(join(home, 'data', FILE_NAME), Buffer.alloc(3 * PIECE_BYTES, 1));
    assert.is(await link.start(), uploader.addr, 'the link found the uploader from the lock');
    await link.connect();
    assert.equal([uploader.stats().uploadSlots, uploader.stats().perRequesterLimit], [DEFAULT_PEER_SETTINGS.peerUpLimit, DEFAULT_PEER_SETTINGS.peerDownLimit]);
    link.configure({ ...DEFAULT_PEER_SETTINGS, peerUpLimit: 7, peerDownLimit: 3, unlistAfterMs: 300 });
    await waitFor(() => uploader.stats().uploadSlots === 7, 5000, 'the uploader to take the settings');
    assert.is(uploader.stats().perRequesterLimit, 3);
    link.listTask({ taskId: TASK_ID, fileName: FILE_NAME, totalBytes: 3 * PIECE_BYTES, pieceSizeBytes: PIECE_BYTES, pieceCount: 3 });
    link.havePiece(TASK_ID, 0);
    await new Promise((r) => setTimeout(r, 100));
    assert.is(await request(uploader.addr, 0), 'unauthorized', 'no key trusted for the task yet');
    link.trustKey(TASK_ID, key.publicKeyText);
    await new Promise((r) => setTimeout(r, 100));
    assert.is(await request(uploader.addr, 0), `piece 0: ${PIECE_BYTES} bytes`);
    assert.is(await request(uploader.addr, 1), 'missing');
    await new Promise((r) => setTimeout(r, 700));
    assert.is(uploader.stats().listedTasks, 0, 'unused for longer than unlistAfterMs: unlisted');
    link.havePiece(TASK_ID, 1);
    await new Promise((r) => setTimeout(r, 200));
    assert.is(await request(uploader.addr, 0), `piece 0: ${PIECE_BYTES} bytes`, 'the earlier piece came back with the relisting');
    assert.is(await request(uploader.addr, 1), `piece 1: ${PIECE_BYTES} bytes`);
  } finally {
    link.close();
    await uploader.close();
    removeDir(home);
  }
});

test('settings out of the core\'s bounds close the control channel', async () => {
  const home = tempDir('uploader-bad-settings');
  const uploader = await startUploader({ homeDir: home, host: '127.0.0.1', port: 0, idleExitMs: 0 });
  try {
    const ws = new WebSocket(`ws://${uploader.addr}/control?token=${uploader.lock.token}`);
    await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
    const closed = new Promise<[number, string]>((resolve) => ws.once('close', (code, reason) => resolve([code, reason.toString()])));
    ws.send(JSON.stringify({ kind: 'configure', settings: { ...DEFAULT_PEER_SETTINGS, peerUpLimit: 0 } }));
    const [code, reason] = await closed;
    assert.is(code, 4400);
    assert.match(reason, 'settings.peerUpLimit');
    assert.is(uploader.stats().uploadSlots, DEFAULT_PEER_SETTINGS.peerUpLimit, 'nothing changed');
  } finally {
    await uploader.close();
    removeDir(home);
  }
});

test('the control channel refuses a wrong token', async () => {
  const home = tempDir('uploader-token');
  const uploader = await startUploader({ homeDir: home, host: '127.0.0.1', port: 0, idleExitMs: 0 });
  try {
    const status = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`ws://${uploader.addr}/control?token=${'0'.repeat(32)}`);
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => resolve(101));
      ws.on('error', () => {});
    });
    assert.is(status, 404);
  } finally {
    await uploader.close();
    removeDir(home);
  }
});

test('the uploader dfget starts gets its token and not NODE_EXTRA_CA_CERTS (it opens no TLS connection); a closed link starts no other', async () => {
  const home = tempDir('uploader-env');
  const before = process.env.NODE_EXTRA_CA_CERTS;
  process.env.NODE_EXTRA_CA_CERTS = '/nonexistent/extra-ca.pem';
  const link = new UploaderLink({ homeDir: home, host: '127.0.0.1', totalLimitBytesPerSec: 0, idleExit: '1min' }, () => {});
  try {
    await prepareHome(homeLayout(home));
    await link.start();
    const lock = await readLock(home);
    assert.ok(lock, 'the link started an uploader and locked the home');
    const env = readFileSync(`/proc/${lock.pid}/environ`, 'utf8').split('\0');
    assert.ok(env.includes(`DFGET_UPLOADER_TOKEN=${lock.token}`), 'the control token is passed');
    assert.not.ok(env.some((entry) => entry.startsWith('NODE_EXTRA_CA_CERTS=')), 'no extra CA bundle to load at start');
    // The link is closed, then its uploader stopped: a closed link must not start another.
    link.close();
    await stopUploaderOf(home);
    await waitFor(() => !pidAlive(lock.pid), 10_000, 'the uploader to exit');
    await new Promise((r) => setTimeout(r, 1500));
    const after = await readLock(home);
    assert.ok(after === null || !pidAlive(after.pid), 'a closed link started no new uploader');
  } finally {
    if (before === undefined) delete process.env.NODE_EXTRA_CA_CERTS;
    else process.env.NODE_EXTRA_CA_CERTS = before;
    link.close();
    await stopUploaderOf(home);
    removeDir(home);
  }
});

test.run();
