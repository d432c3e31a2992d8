/**
 * Bounded disks with real processes: a supernode with `--cache-max 64MiB` and one home with
 * `dfget --data-max 64MiB` download five 32 MiB files one after the other. Sampled every 20 ms,
 * the CDN cache and the home's data dir never hold more than 64 MiB, every download completes
 * with the right hash, the supernode reports the tasks it evicted and the uploader the backups
 * it removed (unlisting them), and a file evicted from the CDN is fetched again when asked for.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HttpOrigin } from '../../../bench/testbed/http-origin.ts';
import { REPO_ROOT, removeDir, tempDir, timeProcess, withProcesses, type RunningProcess } from '../../../bench/testbed/processes.ts';
import { stopUploaderOf } from '../../../bench/testbed/stop-uploader.ts';
import type { DownloadResult } from '../../../transport/dfget/download.ts';
import { dirSizeBytes } from '../../helpers/dir-size.ts';

const MiB = 1024 * 1024;
const LIMIT_BYTES = 64 * MiB;
const sha256 = (bytes: Buffer): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

async function metric(proc: RunningProcess, name: string): Promise<number> {
  const text = await (await fetch(`http://${proc.addr}/metrics`)).text();
  return Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1] ?? NaN);
}

/** The largest size each directory reached, sampled every 20 ms until stopped. */
function samplePeaks(dirs: Record<string, string>): { peaks: Record<string, number>; stop(): void } {
  const peaks = Object.fromEntries(Object.keys(dirs).map((name) => [name, 0]));
  const timer = setInterval(() => {
    for (const [name, dir] of Object.entries(dirs)) peaks[name] = Math.max(peaks[name], dirSizeBytes(dir));
  }, 20);
  return { peaks, stop: () => clearInterval(timer) };
}

test('--cache-max 64MiB and --data-max 64MiB: five 32 MiB downloads, the CDN and the data dir stay under 64 MiB', async () => {
  const work = tempDir('bounded');
  const origin = await HttpOrigin.start();
  const files = Array.from({ length: 5 }, () => randomBytes(32 * MiB));
  for (const [i, bytes] of files.entries()) await origin.put(`/f${i}.bin`, bytes);
  const home = join(work, 'host');
  try {
    await withProcesses(async (procs) => {
      const supernode = await procs.start('supernode', ['--home', join(work, 'sn'), '--cache-max', '64MiB'], { portFlag: '--port' });
      const sampler = samplePeaks({ cdn: join(work, 'sn', 'cdn'), data: join(home, 'data') });
      const dfget = async (i: number): Promise<DownloadResult> => {
        const output = join(work, `out${i}.bin`);
        const { stdout } = await timeProcess([join(REPO_ROOT, 'bin', 'dfget.js'), '--url', origin.urlFor(`/f${i}.bin`), '--output', output,
          '--home', home, '--node', supernode.addr, '--data-max', '64MiB', '--locallimit', '0', '--json', '--quiet']);
        assert.equal(readFileSync(output), files[i], `file ${i} arrived whole`);
        return JSON.parse(stdout) as DownloadResult;
      };
      try {
        for (let i = 0; i < files.length; i++) assert.is((await dfget(i)).fileDigest, sha256(files[i]));
        origin.resetStats();
        assert.is((await dfget(0)).fileDigest, sha256(files[0]), 'a file evicted from the CDN is fetched again');
        assert.ok(origin.stats.bytesSent >= files[0].length, 'the evicted file came from the origin again');
      } finally {
        sampler.stop();
      }
      const evicted = await metric(supernode, 'supernode_cdn_tasks_evicted_total');
      const uploaderLog = readFileSync(join(home, 'logs', 'dfclient.log'), 'utf8');
      const removals = [...uploaderLog.matchAll(/data dir \(room for [^)]*\): removed (\d+) file/g)].length;
      console.log(`bounded disks: CDN peak ${sampler.peaks.cdn} bytes, data dir peak ${sampler.peaks.data} bytes (limit ${LIMIT_BYTES}); `
        + `${evicted} CDN tasks evicted, ${removals} data dir passes removed backups`);
      assert.ok(sampler.peaks.cdn <= LIMIT_BYTES, `the CDN reached ${sampler.peaks.cdn} bytes`);
      assert.ok(sampler.peaks.data <= LIMIT_BYTES, `the data dir reached ${sampler.peaks.data} bytes`);
      assert.ok(sampler.peaks.cdn >= 32 * MiB && sampler.peaks.data >= 32 * MiB, 'the sampler saw the stores fill');
      assert.ok(evicted >= 4, `${evicted} CDN tasks evicted; six downloads of five files through 64 MiB take at least 4`);
      assert.ok(removals >= 4, `${removals} data dir passes removed files`);
      assert.match(uploaderLog, /of them were listed and are no longer offered/);
      await stopUploaderOf(home);
    });
  } finally {
    await origin.close();
    removeDir(work);
  }
});

test.run();
