/**
 * The supernode's socket limits, on a real process: the connection over
 * --max-connections-per-address is closed with 1013 and a reason naming the limit and its flag,
 * while the connections already admitted and a real download keep working; a socket that stays
 * silent past --idle-timeout before any request is dropped.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { connect } from 'node:net';
import { join } from 'node:path';
import { HttpOrigin } from '../../../bench/testbed/http-origin.ts';
import { removeDir, tempDir, withProcesses } from '../../../bench/testbed/processes.ts';
import { fetchTask, ScriptControl, ScriptData, sha256 } from '../../../bench/testbed/script-peer.ts';

const FILE = Buffer.from(Array.from({ length: 700_000 }, (_, i) => (i * 31) % 256));

test('the connection over --max-connections-per-address is refused with a clear close reason; the supernode keeps serving', async () => {
  const home = tempDir('conn-limit');
  const origin = await HttpOrigin.start();
  try {
    await origin.put('/f.bin', FILE);
    await withProcesses(async (procs) => {
      const sn = await procs.start('supernode', ['--home', join(home, 'sn'), '--max-connections-per-address', '3'], { portFlag: '--port' });
      const admitted = [await ScriptControl.connect(sn.addr, 'a1'), await ScriptControl.connect(sn.addr, 'a2')];
      const data = await ScriptData.connect(sn.addr);
      const excess = await ScriptControl.connect(sn.addr, 'a4');
      assert.is(await excess.poll(10_000), null);
      assert.is(excess.closedWith?.code, 1013);
      assert.match(excess.closedWith?.reason ?? '', /too many connections from 127\.0\.0\.1 \(limit 3, --max-connections-per-address\)/);
      assert.is(admitted[0].closedWith, null, 'connections admitted before stay open');
      admitted[1].close();
      data.close();
      await new Promise((resolve) => setTimeout(resolve, 200));
      const got = await fetchTask(sn.addr, { url: origin.urlFor('/f.bin'), headers: {} }, 'after-limit', 30_000);
      assert.is(got.fileDigest, sha256(FILE));
      admitted[0].close();
    });
  } finally {
    await origin.close();
    removeDir(home);
  }
});

test('a socket silent past --idle-timeout before sending a request is dropped', async () => {
  const home = tempDir('idle');
  try {
    await withProcesses(async (procs) => {
      const sn = await procs.start('supernode', ['--home', join(home, 'sn'), '--idle-timeout', '1s'], { portFlag: '--port' });
      const closed = await new Promise<boolean>((resolve) => {
        const socket = connect(sn.port!, '127.0.0.1');
        socket.on('close', () => resolve(true));
        socket.on('error', () => undefined);
        setTimeout(() => { socket.destroy(); resolve(false); }, 20_000);
      });
      assert.ok(closed, 'the idle socket was never dropped');
      const health = await fetch(`http://${sn.addr}/healthz`);
      assert.is(health.status, 200);
    });
  } finally {
    removeDir(home);
  }
});

test.run();
