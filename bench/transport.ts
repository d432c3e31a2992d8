/**
 * Real transport on loopback, against DESIGN §6:
 *
 * 1. one host: `dfget` (cold supernode, then a second host with the CDN warm) versus a plain HTTP
 *    GET of the same file from the same origin, both writing to disk; the throughput ratio is
 *    direct time / dfget time (DESIGN wants >= 0.5). dfget runs with `--locallimit 0`: the seed's
 *    default 10 MB/s per task would measure the limit, not the transport.
 * 2. a swarm: N dfget versus N direct pulls behind an origin capped in bandwidth; the ratio is the
 *    last direct pull's time / the last dfget's time (DESIGN wants >= 8) and origin copies are the
 *    origin's body bytes / the file size (DESIGN wants <= 1.05).
 *
 * Every time is wall clock from process spawn to exit, so dfget pays its start-up (node + tsx, a
 * background uploader) and the supernode's CDN fetch. All processes share this machine's cores.
 *
 *   npm run bench:transport -- [--big 1GiB] [--swarm-file 256MiB] [--hosts 16] [--cap 50MB] [--out out/bench]
 */
import { createWriteStream, mkdirSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Command } from 'commander';
import { stringify } from 'csv-stringify/sync';
import { formatBytes, parseBytes, parseRate } from '../core/units.ts';
import type { DownloadResult } from '../transport/dfget/download.ts';
import { HttpOrigin } from './testbed/http-origin.ts';
import { stopUploaderOf } from './testbed/stop-uploader.ts';
import { removeDir, startBin, tempDir, timeDfget, timeProcess, type RunningProcess } from './testbed/processes.ts';

/** A plain HTTP download to a file, in a bare node process (no tsx): the baseline. */
const DIRECT_GET = `
const http = require('node:http'); const fs = require('node:fs');
http.get(process.argv[1], (res) => {
  if (res.statusCode !== 200) { console.error('status ' + res.statusCode); process.exit(1); }
  res.pipe(fs.createWriteStream(process.argv[2])).on('finish', () => process.exit(0));
}).on('error', (e) => { console.error(e.message); process.exit(1); });`;

interface Row {
  case: string;
  hosts: number;
  fileBytes: number;
  originCapBytesPerSec: number;
  directSeconds: number;
  dfgetSeconds: number;
  ratio: number;
  originCopies: number;
  /** Share of bytes that dfget got from other peers, and straight from the source (fallback). */
  peersPercent: number;
  sourcePercent: number;
}

const opts = new Command('bench:transport')
  .option('--big <size>', 'file for the one-host comparison', '1GiB')
  .option('--swarm-file <size>', 'file for the swarm comparison', '256MiB')
  .option('--hosts <n>', 'hosts in the swarm comparison', '16')
  .option('--cap <rate>', 'origin egress cap in the swarm comparison', '50MB')
  .option('--out <dir>', 'where transport.csv goes', 'out/bench')
  .parse()
  .opts<{ big: string; swarmFile: string; hosts: string; cap: string; out: string }>();

const root = tempDir('bench-transport');
const rows: Row[] = [];

const directGet = async (url: string, output: string): Promise<number> => (await timeProcess(['-e', DIRECT_GET, url, output])).seconds;

interface DfgetRun { seconds: number; result: DownloadResult }

function dfget(url: string, home: string, supernode: string): Promise<DfgetRun> {
  return timeDfget(url, home, supernode, ['--locallimit', '0', '--uploader-idle-exit', '20s']);
}

/** Where the bytes of these runs came from, in percent of all bytes. */
function shares(runs: DfgetRun[]): { peersPercent: number; sourcePercent: number } {
  const sum = (f: (r: DownloadResult) => number): number => runs.reduce((s, run) => s + f(run.result), 0);
  const total = sum((r) => r.fromPeersBytes + r.fromSupernodeBytes + r.fromSourceBytes) || 1;
  return { peersPercent: (100 * sum((r) => r.fromPeersBytes)) / total, sourcePercent: (100 * sum((r) => r.fromSourceBytes)) / total };
}

async function writeRandomFile(path: string, sizeBytes: number): Promise<void> {
  const out = createWriteStream(path);
  const chunkBytes = 16 * 1024 * 1024;
  for (let written = 0; written < sizeBytes; written += chunkBytes) {
    const chunk = randomBytes(Math.min(chunkBytes, sizeBytes - written));
    if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
}

async function withSupernode<T>(body: (sn: RunningProcess) => Promise<T>): Promise<T> {
  const sn = await startBin('supernode', ['--home', tempDir('bench-sn')], { portFlag: '--port' });
  try {
    return await body(sn);
  } finally {
    await sn.stop();
  }
}

/** Stop the background uploaders the dfget runs left behind in these homes. */
async function stopUploaders(homes: string[]): Promise<void> {
  for (const home of homes) await stopUploaderOf(home);
}

async function oneHost(): Promise<void> {
  const sizeBytes = parseBytes(opts.big);
  const file = join(root, 'big.bin');
  await writeRandomFile(file, sizeBytes);
  const origin = await HttpOrigin.start();
  // The second run reuses the first one's home: a host whose uploader already runs.
  const homes = [join(root, 'one-a'), join(root, 'one-a')];
  try {
    await origin.put('/big.bin', { filePath: file });
    const url = origin.urlFor('/big.bin');
    const directSeconds = await directGet(url, join(root, 'direct.bin'));
    removeDir(join(root, 'direct.bin'));
    await withSupernode(async (sn) => {
      origin.resetStats();
      const cold = await dfget(url, homes[0], sn.addr);
      const copies = origin.bytesSentFor('/big.bin') / sizeBytes;
      removeDir(join(homes[0], 'out.bin'));
      const warm = await dfget(url, homes[1], sn.addr);
      removeDir(join(homes[1], 'out.bin'));
      for (const [name, run] of [['one host, cold supernode', cold], ['one host, CDN+uploader warm', warm]] as const) {
        rows.push({
          case: name, hosts: 1, fileBytes: sizeBytes, originCapBytesPerSec: 0, directSeconds, dfgetSeconds: run.seconds,
          ratio: directSeconds / run.seconds, originCopies: name.includes('cold') ? copies : 0, ...shares([run]),
        });
      }
    });
  } finally {
    await stopUploaders(homes);
    await origin.close();
    removeDir(file);
  }
}

async function swarm(): Promise<void> {
  const sizeBytes = parseBytes(opts.swarmFile);
  const hosts = Number(opts.hosts);
  const capBytesPerSec = parseRate(opts.cap);
  const file = join(root, 'swarm.bin');
  await writeRandomFile(file, sizeBytes);
  const origin = await HttpOrigin.start({ rateBytesPerSec: capBytesPerSec });
  const homes = Array.from({ length: hosts }, (_, i) => join(root, `host${i}`));
  try {
    await origin.put('/swarm.bin', { filePath: file });
    const url = origin.urlFor('/swarm.bin');
    const directDir = join(root, 'direct');
    mkdirSync(directDir, { recursive: true });
    const directTimes = await Promise.all(homes.map((_, i) => directGet(url, join(directDir, `${i}.bin`))));
    removeDir(directDir);
    await withSupernode(async (sn) => {
      origin.resetStats();
      const runs = await Promise.all(homes.map((home) => dfget(url, home, sn.addr)));
      const directSeconds = Math.max(...directTimes);
      const dfgetSeconds = Math.max(...runs.map((r) => r.seconds));
      rows.push({
        case: `${hosts} hosts, origin capped`, hosts, fileBytes: sizeBytes, originCapBytesPerSec: capBytesPerSec,
        directSeconds, dfgetSeconds, ratio: directSeconds / dfgetSeconds, originCopies: origin.bytesSentFor('/swarm.bin') / sizeBytes,
        ...shares(runs),
      });
    });
  } finally {
    await stopUploaders(homes);
    await origin.close();
    removeDir(file);
  }
}

try {
  await oneHost();
  await swarm();
} finally {
  removeDir(root);
}

console.log('case                          file       direct s   dfget s   ratio   origin copies   from peers   from source');
for (const r of rows) {
  console.log(`${r.case.padEnd(30)}${formatBytes(r.fileBytes).padEnd(11)}${r.directSeconds.toFixed(1).padStart(8)}${r.dfgetSeconds.toFixed(1).padStart(10)}`
    + `${r.ratio.toFixed(2).padStart(8)}${(r.originCopies ? r.originCopies.toFixed(3) : '-').padStart(16)}`
    + `${`${r.peersPercent.toFixed(1)}%`.padStart(13)}${`${r.sourcePercent.toFixed(1)}%`.padStart(14)}`);
}
console.log('targets (DESIGN §6): one host ratio >= 0.5 (direct time / dfget time); swarm ratio >= 8; origin copies <= 1.05');
mkdirSync(opts.out, { recursive: true });
const csvPath = join(opts.out, 'transport.csv');
writeFileSync(csvPath, stringify(rows, { header: true }));
console.log(`wrote ${csvPath}`);
