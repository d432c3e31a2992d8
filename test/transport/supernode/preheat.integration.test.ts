/**
 * Preheat of a file on a real supernode: the `preheat` command fetches it into the CDN, a later
 * dfget of the same URL gets every byte from the cache (the origin sends no body after the
 * preheat), and the API refuses bad requests with a status and a message naming what is wrong.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HttpOrigin } from '../../../bench/testbed/http-origin.ts';
import { REPO_ROOT, removeDir, tempDir, timeDfget, timeProcess, withProcesses } from '../../../bench/testbed/processes.ts';
import { stopUploaderOf } from '../../../bench/testbed/stop-uploader.ts';
import type { PreheatJobView } from '../../../core/preheat.ts';

const MiB = 1024 * 1024;
const sha256 = (bytes: Buffer): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

test('a preheated file is served from the cache: no source bytes after the preheat', async () => {
  const work = tempDir('preheat');
  const origin = await HttpOrigin.start();
  const file = randomBytes(10 * MiB + 123);
  await origin.put('/big.bin', file);
  try {
    await withProcesses(async (procs) => {
      const supernode = await procs.start('supernode', ['--home', join(work, 'sn')], { portFlag: '--port' });
      const { stdout } = await timeProcess([join(REPO_ROOT, 'bin', 'preheat.js'), '--node', supernode.addr, '--url', origin.urlFor('/big.bin'), '--json']);
      const view = JSON.parse(stdout) as PreheatJobView & { node: string };
      assert.is(view.state, 'succeeded');
      assert.equal(view.files.map((f) => [f.state, f.bytesDone, f.totalBytes]), [['done', file.length, file.length]]);
      const preheatBytes = origin.stats.bytesSent;
      assert.ok(preheatBytes >= file.length && preheatBytes <= file.length * 1.01, `the preheat fetched ${preheatBytes} bytes of ${file.length}`);

      origin.resetStats();
      const home = join(work, 'host');
      const { result } = await timeDfget(origin.urlFor('/big.bin'), home, supernode.addr, ['--locallimit', '0']);
      assert.is(result.fileDigest, sha256(file));
      assert.equal(readFileSync(join(home, 'out.bin')), file);
      assert.is(result.fromSourceBytes, 0);
      assert.is(origin.stats.bytesSent, 0, `the origin sent ${origin.stats.bytesSent} body bytes after the preheat`);
      console.log(`preheat: origin sent ${preheatBytes} bytes for a ${file.length}-byte file, then ${origin.stats.bytesSent} for the download `
        + `(${origin.stats.requests} request(s), ${origin.stats.notModified} answered 304)`);
      await stopUploaderOf(home);
    });
  } finally {
    await origin.close();
    removeDir(work);
  }
});

test('the API: 400 naming the field, 404 for an unknown job, 413 past 64 KiB, a failed source shown in the job', async () => {
  const work = tempDir('preheat-api');
  const origin = await HttpOrigin.start();
  try {
    await withProcesses(async (procs) => {
      const supernode = await procs.start('supernode', ['--home', join(work, 'sn')], { portFlag: '--port' });
      const api = `http://${supernode.addr}/preheat`;
      const post = (body: string) => fetch(api, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      const bad = await post(JSON.stringify({ type: 'file', url: 'ftp://x/y' }));
      assert.is(bad.status, 400);
      assert.equal(await bad.json(), { error: 'bad preheat request: $.url: only http:// and https:// are fetched' });
      assert.is((await post('{not json')).status, 400);
      assert.is((await post(JSON.stringify({ type: 'file', url: `http://x/${'a'.repeat(70_000)}` }))).status, 413);
      const unknown = await fetch(`${api}/0123456789abcdef`);
      assert.is(unknown.status, 404);
      assert.match((await unknown.json() as { error: string }).error, /no such preheat job/);
      assert.is((await fetch(api)).status, 405);

      const accepted = await post(JSON.stringify({ type: 'file', url: origin.urlFor('/missing.bin') }));
      assert.is(accepted.status, 202);
      const { id, location } = await accepted.json() as { id: string; location: string };
      assert.is(accepted.headers.get('location'), `/preheat/${id}`);
      const view = await untilEnded(`http://${supernode.addr}${location}`);
      assert.is(view.state, 'failed');
      assert.match(view.error!, /1 of 1 files failed; first .*missing\.bin: .*404/);
      assert.ok((await fetch(`http://${supernode.addr}/healthz`)).ok, 'the supernode is still up');
    });
  } finally {
    await origin.close();
    removeDir(work);
  }
});

/** Poll a job until it succeeded or failed (10 s at most). */
async function untilEnded(url: string): Promise<PreheatJobView> {
  for (let i = 0; i < 100; i++) {
    const view = await (await fetch(url)).json() as PreheatJobView;
    if (view.state === 'succeeded' || view.state === 'failed') return view;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the job at ${url} did not end within 10 s`);
}

test.run();
