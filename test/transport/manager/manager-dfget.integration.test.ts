/**
 * dfget following the managing node, as real processes on 127.0.0.1: two supernodes announce
 * from IDCs a and b; `dfget --manager --idc idc-b` is sent to the IDC-b supernode and writes the
 * meta cache; with that supernode killed mid-download it moves to the other and completes; with
 * the manager down too, a warm meta cache still gets the host its supernodes, and a cold one
 * fails saying what to do.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HttpOrigin } from '../../../bench/testbed/http-origin.ts';
import { REPO_ROOT, removeDir, tempDir, timeProcess, waitFor, withProcesses, type RunningProcess } from '../../../bench/testbed/processes.ts';
import { stopUploaderOf } from '../../../bench/testbed/stop-uploader.ts';
import type { DownloadResult } from '../../../transport/dfget/download.ts';

const MiB = 1024 * 1024;
const sha256 = (bytes: Buffer): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

/** A counter or gauge from a process's /metrics. */
async function metric(proc: RunningProcess, name: string): Promise<number> {
  const text = await (await fetch(`http://${proc.addr}/metrics`)).text();
  return Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1] ?? NaN);
}

test('dfget --manager --idc idc-b: sent to b, meta cached, survives b\'s death on a, works with the manager down', async () => {
  const work = tempDir('manager-dfget');
  const origin = await HttpOrigin.start();
  const files = { first: randomBytes(6 * MiB), slow: randomBytes(24 * MiB), later: randomBytes(5 * MiB + 7) };
  for (const [name, bytes] of Object.entries(files)) await origin.put(`/${name}.bin`, bytes);
  const home = join(work, 'host');
  const dfget = async (name: keyof typeof files, manager: string, extra: string[] = []): Promise<DownloadResult> => {
    const output = join(work, `${name}.out`);
    const { stdout } = await timeProcess([join(REPO_ROOT, 'bin', 'dfget.js'), '--url', origin.urlFor(`/${name}.bin`), '--output', output,
      '--home', home, '--manager', manager, '--idc', 'idc-b', '--location', 'cn|sh', '--json', '--quiet', ...extra]);
    assert.equal(readFileSync(output), files[name], `${name} arrived whole`);
    return JSON.parse(stdout) as DownloadResult;
  };
  try {
    await withProcesses(async (procs) => {
      const manager = await procs.start('manager', ['--ttl', '30s'], { portFlag: '--port' });
      const url = `http://${manager.addr}`;
      const a = await procs.start('supernode', ['--home', join(work, 'a'), '--manager', url, '--idc', 'idc-a', '--location', 'cn|hz'], { portFlag: '--port' });
      const b = await procs.start('supernode', ['--home', join(work, 'b'), '--manager', url, '--idc', 'idc-b', '--location', 'cn|sh'], { portFlag: '--port' });
      await waitFor(() => /supernode .* joined[\s\S]*supernode .* joined/.test(manager.stderr), 15_000, 'both supernodes announced');
      const loads = await (await fetch(`http://${manager.addr}/metrics`)).text();
      assert.match(loads, new RegExp(`^manager_supernode_load\\{address="${b.addr}",idc="idc-b",location="cn\\|sh"\\} 0$`, 'm'),
        'each supernode reports its peer count as its load');

      const first = await dfget('first', url);
      assert.is(first.fileDigest, sha256(files.first));
      assert.is(await metric(a, 'supernode_source_bytes_total'), 0, 'the IDC-a supernode fetched nothing');
      assert.ok(await metric(b, 'supernode_source_bytes_total') >= files.first.length, 'the IDC-b supernode fetched the file');
      const meta = JSON.parse(readFileSync(join(home, 'meta', 'manager.json'), 'utf8')) as { assigned: string; supernodes: { address: string }[]; idc: string };
      assert.is(meta.assigned, b.addr);
      assert.equal(meta.supernodes.map((s) => s.address), [b.addr, a.addr]);
      assert.is(meta.idc, 'idc-b');

      // 24 MiB at 4 MiB/s: b is killed while the download runs; the cached list's next supernode takes over.
      const slow = dfget('slow', url, ['--locallimit', '4M']);
      const bServing = Date.now() + 15_000;
      while (await metric(b, 'supernode_served_bytes_total') < 4 * MiB && Date.now() < bServing) await new Promise((r) => setTimeout(r, 100));
      await b.kill9();
      const moved = await slow;
      assert.is(moved.fileDigest, sha256(files.slow));
      assert.ok(await metric(a, 'supernode_source_bytes_total') > 0, 'the IDC-a supernode took over');
      console.log(`manager: after b died, ${moved.fromSupernodeBytes} bytes came from a supernode, ${moved.fromSourceBytes} from the source`);
      assert.is(moved.fromSourceBytes, 0, 'no fall back to the source: the other supernode served it');

      await manager.stop();
      const later = await dfget('later', url);
      assert.is(later.fileDigest, sha256(files.later), 'a warm meta cache needs no manager');

      const cold = spawnSync(process.execPath, [join(REPO_ROOT, 'bin', 'dfget.js'), '--url', origin.urlFor('/later.bin'), '--output', join(work, 'cold.out'),
        '--home', join(work, 'cold'), '--manager', url, '--idc', 'idc-b', '--quiet'], { encoding: 'utf8' });
      assert.is(cold.status, 3, cold.stderr);
      assert.match(cold.stderr, /cannot reach manager 127\.0\.0\.1:\d+ \(ECONNREFUSED\); is it running\? set --manager, or give --node/);
      await stopUploaderOf(home);
      await stopUploaderOf(join(work, 'cold'));
    });
  } finally {
    await origin.close();
    removeDir(work);
  }
});

test.run();
