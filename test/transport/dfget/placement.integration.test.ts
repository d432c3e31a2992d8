/**
 * One declaration serves the managing node and the scheduler: a download's `--idc` and
 * `--location` (DownloadRequest idc/location, as dfget and dfdaemon pass them) travel in its
 * register message to the supernode, whose scheduler prefers near sources (core/topology.ts).
 * Without them the register says nothing about placement.
 */
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocketServer } from 'ws';
import type { PeerToSupernode } from '../../../core/protocol.ts';
import { removeDir, tempDir, waitFor } from '../../../bench/testbed/processes.ts';
import { download, startUploader } from '../../../transport/dfget/download.ts';

/** The first register a download sends to a supernode stand-in that never answers. */
async function firstRegister(placement: { idc?: string; location?: string }): Promise<PeerToSupernode> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((r) => wss.once('listening', r));
  const received: PeerToSupernode[] = [];
  wss.on('connection', (ws) => ws.on('message', (data) => received.push(JSON.parse(data.toString()) as PeerToSupernode)));
  const home = tempDir('dfget-placement');
  const uploader = await startUploader({ homeDir: home, host: '127.0.0.1', port: 0, idleExitMs: 0 });
  const abort = new AbortController();
  try {
    const running = download({
      url: 'http://127.0.0.1:1/placed.bin', headers: {}, outputPath: join(home, 'placed.bin'), homeDir: home,
      supernodes: [`127.0.0.1:${(wss.address() as AddressInfo).port}`], localLimitBytesPerSec: 0, totalLimitBytesPerSec: 0,
      pattern: 'p2p', backToSource: false, timeoutMs: 0, signal: abort.signal, ...placement,
    }).catch(() => undefined);
    await waitFor(() => received.some((m) => m.kind === 'register'), 5000, 'a register at the supernode');
    abort.abort();
    await running;
    return received.find((m) => m.kind === 'register')!;
  } finally {
    await uploader.close();
    for (const ws of wss.clients) ws.terminate();
    await new Promise((r) => wss.close(() => r(undefined)));
    removeDir(home);
  }
}

test('--idc and --location reach the supernode in register', async () => {
  const msg = await firstRegister({ idc: 'idc-b', location: 'cn|sh|rack-7' });
  assert.is(msg.kind === 'register' && msg.idc, 'idc-b');
  assert.is(msg.kind === 'register' && msg.location, 'cn|sh|rack-7');
});

test('without them register declares no placement', async () => {
  const msg = await firstRegister({ idc: '', location: '' });
  assert.not.ok('idc' in msg || 'location' in msg, JSON.stringify(msg));
});

test.run();
