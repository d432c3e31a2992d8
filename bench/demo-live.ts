/**
 * Live demo on loopback: an origin HTTP server with a 256 MiB file, one supernode and 8 dfget
 * processes (each with its own home, so its own uploader, like separate hosts). Prints each
 * host's time and where its bytes came from, and how much the origin sent.
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

async function runDfget(url: string, home: string, supernode: string): Promise<DownloadResult & { wallMs: number }> {
  const { seconds, result } = await timeDfget(url, home, supernode, ['--locallimit', opts.locallimit, '--uploader-idle-exit', '15s']);
  return { ...result, wallMs: seconds * 1000 };
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
  const runs: Promise<DownloadResult & { wallMs: number }>[] = [];
  for (const home of homes) {
    runs.push(runDfget(url, home, supernode.addr));
    await sleep(staggerMs);
  }
  const results = await Promise.all(runs);
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
