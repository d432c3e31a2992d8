/**
 * Live demo on loopback: an origin HTTP server with a 256 MiB file, one supernode and 8 dfget
 * processes (each with its own home, so its own uploader, like separate hosts). While they run it
 * shows each host's progress (read off its progress bar, `dfget --showbar`) and what the origin
 * has sent so far; at the end, each host's time and where its bytes came from.
 *
 *   npm run demo:live -- [--hosts 8] [--size 256MiB] [--locallimit 10M] [--stagger 500ms]
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { formatBytes, formatDurationMs, parseBytes, parseDurationMs, parseRate } from '../core/units.ts';
import type { DownloadResult } from '../transport/dfget/download.ts';
import { sleep } from '../transport/real-timer.ts';
import { HttpOrigin } from './testbed/http-origin.ts';
import { stopUploaderOf } from './testbed/stop-uploader.ts';
import { removeDir, startBin, tempDir, timeDfget } from './testbed/processes.ts';

const opts = new Command('demo:live')
  .option('--hosts <n>', 'dfget hosts', '8')
  .option('--size <size>', 'file size', '256MiB')
  .option('--locallimit <rate>', 'per-task download limit of each dfget (the seed default is 10M)', '10M')
  .option('--stagger <duration>', 'delay between host starts', '500ms')
  .parse()
  .opts<{ hosts: string; size: string; locallimit: string; stagger: string }>();

const hosts = Number(opts.hosts);
const sizeBytes = parseBytes(opts.size);
const staggerMs = parseDurationMs(opts.stagger);
parseRate(opts.locallimit);

/** Each host's last progress (percent), read off its progress bar. */
const percentDone: number[] = [];

async function runDfget(url: string, home: string, supernode: string, host: number): Promise<DownloadResult & { wallMs: number }> {
  percentDone[host] = 0;
  const onStderr = (text: string): void => {
    const shown = [...text.matchAll(/\] (\d+)% /g)];
    if (shown.length > 0) percentDone[host] = Number(shown[shown.length - 1][1]);
  };
  const { seconds, result } = await timeDfget(url, home, supernode, ['--locallimit', opts.locallimit, '--uploader-idle-exit', '15s'], onStderr);
  percentDone[host] = 100;
  return { ...result, wallMs: seconds * 1000 };
}

/** One status line: time, each host's progress, the origin's bytes so far (redrawn in place on a terminal). */
function showProgress(startMs: number, originBytes: number): void {
  const hostsText = percentDone.map((p, i) => `h${i + 1} ${String(p).padStart(3)}%`).join('  ');
  const line = `${formatDurationMs(performance.now() - startMs).padStart(7)}  ${hostsText}  origin ${formatBytes(originBytes)} (${(originBytes / sizeBytes).toFixed(2)} copies)`;
  if (process.stdout.isTTY) process.stdout.write(`\r${line}\x1b[K`);
  else console.log(line);
}

const root = tempDir('demo-live');
const origin = await HttpOrigin.start();
const homes = Array.from({ length: hosts }, (_, i) => join(root, `host${i + 1}`));
const supernode = await startBin('supernode', ['--home', join(root, 'supernode')], { portFlag: '--port' });
try {
  const content = randomBytes(sizeBytes);
  const digest = `sha256:${createHash('sha256').update(content).digest('hex')}`;
  await origin.put('/demo.bin', content);
  const url = origin.urlFor('/demo.bin');
  console.log(`origin ${url} (${formatBytes(sizeBytes)}), supernode ${supernode.addr}, ${hosts} dfget, --locallimit ${opts.locallimit}, `
    + `started ${formatDurationMs(staggerMs)} apart`);
  const startMs = performance.now();
  const ticker = setInterval(() => showProgress(startMs, origin.bytesSentFor('/demo.bin')), process.stdout.isTTY ? 250 : 2000);
  const runs: Promise<DownloadResult & { wallMs: number }>[] = [];
  for (const [i, home] of homes.entries()) {
    runs.push(runDfget(url, home, supernode.addr, i));
    await sleep(staggerMs);
  }
  const results = await Promise.all(runs).finally(() => clearInterval(ticker));
  showProgress(startMs, origin.bytesSentFor('/demo.bin'));
  console.log('\nhost     time      from peers   from supernode   peers %   output');
  results.forEach((r, i) => {
    const ok = createHash('sha256').update(readFileSync(r.outputPath)).digest('hex') === digest.slice(7);
    const share = (100 * r.fromPeersBytes) / Math.max(1, r.fromPeersBytes + r.fromSupernodeBytes);
    console.log(`host${String(i + 1).padEnd(4)} ${formatDurationMs(r.wallMs).padEnd(9)} ${formatBytes(r.fromPeersBytes).padStart(11)}`
      + `${formatBytes(r.fromSupernodeBytes).padStart(17)}${share.toFixed(0).padStart(9)}%   ${ok ? 'sha256 ok' : 'CORRUPT'}`);
  });
  const peers = results.reduce((s, r) => s + r.fromPeersBytes, 0);
  const fromSupernode = results.reduce((s, r) => s + r.fromSupernodeBytes, 0);
  const originBytes = origin.bytesSentFor('/demo.bin');
  console.log(`\norigin sent ${formatBytes(originBytes)} (${(originBytes / sizeBytes).toFixed(3)} copies for ${hosts} hosts); `
    + `peers served ${formatBytes(peers)} (${((100 * peers) / (peers + fromSupernode)).toFixed(1)}%), the supernode ${formatBytes(fromSupernode)}`);
} finally {
  await supernode.stop();
  for (const home of homes) await stopUploaderOf(home);
  await origin.close();
  removeDir(root);
}
