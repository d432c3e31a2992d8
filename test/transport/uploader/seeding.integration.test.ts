/**
 * The uploader's seeder against scripted supernodes on 127.0.0.1: a complete task handed over
 * with `seed-task` is registered with every piece; a supernode that closes the connection sends
 * the task to the next one; the settings in a supernode's task-info reconfigure the uploader; a task the core unlists is left; a `task-failed` drops it; garbage
 * from a supernode is survived; an incomplete task is not seeded; a seed-task whose spec does not
 * hash to its taskId closes the control channel.
 */
import { writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocket, WebSocketServer } from 'ws';
import type { PeerToSupernode } from '../../../core/protocol.ts';
import { DEFAULT_PEER_SETTINGS } from '../../../core/settings.ts';
import { taskIdFor } from '../../../transport/task-id.ts';
import { startUploader, type UploaderHandle } from '../../../transport/uploader/uploader-server.ts';
import { removeDir, tempDir, waitFor } from '../../../bench/testbed/processes.ts';

const PIECE_BYTES = 1024;
const TASK = { url: 'http://127.0.0.1:1/seeded.bin', headers: {} };
const TASK_ID = taskIdFor(TASK);

/** A supernode stand-in that records what each connection sends. */
class FakeSupernode {
  readonly received: { peerId: string; msg: PeerToSupernode }[] = [];
  readonly sockets: WebSocket[] = [];
  private constructor(readonly wss: WebSocketServer, readonly addr: string) {
    wss.on('connection', (ws, req) => {
      const peerId = new URL(req.url ?? '/', 'http://x').searchParams.get('peerId') ?? '';
      this.sockets.push(ws);
      ws.on('message', (data) => this.received.push({ peerId, msg: JSON.parse(data.toString()) as PeerToSupernode }));
    });
  }
  static async start(): Promise<FakeSupernode> {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((r) => wss.once('listening', r));
    return new FakeSupernode(wss, `127.0.0.1:${(wss.address() as AddressInfo).port}`);
  }
  kinds(): string[] { return this.received.map((r) => r.msg.kind); }
  close(): Promise<void> {
    for (const ws of this.wss.clients) ws.terminate();
    return new Promise((r) => this.wss.close(() => r()));
  }
}

async function control(uploader: UploaderHandle): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${uploader.port}/control?token=${uploader.lock.token}`);
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
  return ws;
}

function listComplete(ws: WebSocket, home: string, pieces: number): void {
  const fileName = `${TASK_ID}.server`;
  writeFileSync(join(home, 'data', fileName), Buffer.alloc(pieces * PIECE_BYTES, 7));
  ws.send(JSON.stringify({ kind: 'list-task', taskId: TASK_ID, fileName, totalBytes: pieces * PIECE_BYTES, pieceSizeBytes: PIECE_BYTES, pieceCount: pieces }));
}

test('a complete task is registered with every piece, fails over, survives garbage and is left when unlisted', async () => {
  const home = tempDir('uploader-seeding');
  const [down, up] = [await FakeSupernode.start(), await FakeSupernode.start()];
  const uploader = await startUploader({ homeDir: home, host: '127.0.0.1', port: 0, idleExitMs: 0, settings: { ...DEFAULT_PEER_SETTINGS, unlistAfterMs: 1500 }, totalLimitBytesPerSec: 50_000_000 });
  try {
    const ws = await control(uploader);
    listComplete(ws, home, 3);
    for (let piece = 0; piece < 3; piece++) ws.send(JSON.stringify({ kind: 'have-piece', taskId: TASK_ID, piece }));
    ws.send(JSON.stringify({ kind: 'seed-task', taskId: TASK_ID, task: TASK, supernodes: [down.addr, up.addr] }));
    await waitFor(() => down.received.length > 0, 5000, 'a register at the first supernode');
    // The first supernode drops the connection: the task moves to the second one.
    await down.close();
    await waitFor(() => up.received.length > 0, 5000, 'a register at the second supernode');
    const { peerId, msg } = up.received[0];
    assert.ok(peerId.includes('-seed-'), `seeder peer id ${peerId}`);
    assert.equal(msg, {
      kind: 'register', taskId: TASK_ID, task: TASK, uploadAddr: uploader.addr, have: [0, 1, 2], blacklist: [], pattern: 'p2p',
      uploadRateBytesPerSec: 50_000_000,
    });
    const sock = up.sockets[0];
    sock.send('not json');
    sock.send(JSON.stringify({ kind: 'assign', taskId: TASK_ID, pieces: 'many' }));
    sock.send(JSON.stringify({ kind: 'wait', taskId: TASK_ID, retryAfterMs: 100, reason: 'nothing to do' }));
    await new Promise((r) => setTimeout(r, 100));
    assert.is(uploader.stats().seededTasks, 1, 'garbage from the supernode changed nothing');
    // The supernode's settings in its task-info reach the uploader, as a download's would.
    const settings = { ...DEFAULT_PEER_SETTINGS, unlistAfterMs: 1500, peerUpLimit: 9, assumedUploadBytesPerSec: 50_000_000 };
    sock.send(JSON.stringify({ kind: 'task-info', taskId: TASK_ID, totalBytes: 3 * PIECE_BYTES, pieceSizeBytes: PIECE_BYTES, pieceCount: 3, settings }));
    await waitFor(() => uploader.stats().uploadSlots === 9, 5000, 'the uploader to take the supernode\'s settings');
    assert.is(uploader.stats().seededTasks, 1, 'a task-info that matches the file keeps the registration');
    // Nobody requests the task for unlistAfterMs: the core unlists it and the seeder leaves.
    await waitFor(() => up.kinds().includes('leave'), 5000, 'a leave');
    assert.equal(up.kinds(), ['register', 'leave']);
    assert.is(uploader.stats().seededTasks, 0);
    ws.close();
  } finally {
    await uploader.close();
    await up.close();
    removeDir(home);
  }
});

test('task-failed drops the registration; an incomplete task is not seeded; a forged spec closes the channel', async () => {
  const home = tempDir('uploader-seeding');
  const supernode = await FakeSupernode.start();
  const uploader = await startUploader({ homeDir: home, host: '127.0.0.1', port: 0, idleExitMs: 0 });
  try {
    const ws = await control(uploader);
    listComplete(ws, home, 2);
    ws.send(JSON.stringify({ kind: 'have-piece', taskId: TASK_ID, piece: 0 }));
    ws.send(JSON.stringify({ kind: 'seed-task', taskId: TASK_ID, task: TASK, supernodes: [supernode.addr] }));
    ws.send(JSON.stringify({ kind: 'have-piece', taskId: TASK_ID, piece: 1 }));
    ws.send(JSON.stringify({ kind: 'seed-task', taskId: TASK_ID, task: TASK, supernodes: [supernode.addr] }));
    await waitFor(() => supernode.received.length > 0, 5000, 'one register');
    assert.equal(supernode.received[0].msg.kind === 'register' && supernode.received[0].msg.have, [0, 1], 'only the complete task was registered');
    assert.not.ok('uploadRateBytesPerSec' in supernode.received[0].msg, 'no rate declared without --totallimit');
    supernode.sockets[0].send(JSON.stringify({ kind: 'task-failed', taskId: TASK_ID, reason: 'source gone', status: 404 }));
    await waitFor(() => uploader.stats().seededTasks === 0, 5000, 'the registration dropped');

    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    ws.send(JSON.stringify({ kind: 'seed-task', taskId: TASK_ID, task: { url: 'http://127.0.0.1:1/other.bin', headers: {} }, supernodes: [supernode.addr] }));
    assert.is(await closed, 4400, 'a spec that does not hash to the taskId is refused');
    assert.equal(supernode.kinds(), ['register']);
  } finally {
    await uploader.close();
    await supernode.close();
    removeDir(home);
  }
});

test.run();
