/**
 * `npm run bench:load`: many scripted WebSocket peers on one supernode, and the supernode's
 * memory. Phases, on 127.0.0.1:
 *
 *   1. per task: `--tasks` small files, each pulled by one peer that then leaves; the supernode's
 *      RSS growth over them, divided by the task count, is the memory a (finished) task keeps;
 *   2. per peer: `--peers` peers (in `--workers` processes) register for one task at once and
 *      pull it to completion from the supernode, every piece and the whole file verified; RSS is
 *      sampled every 100 ms; (peak RSS - RSS before) / peers is the memory per peer.
 *
 * The supernode runs with --max-connections-per-address raised for loopback. Writes load.md and
 * load.csv to --out; exits 1 unless every peer completed. Every process it starts is stopped at
 * the end, on an error and on Ctrl-C.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { stringify } from 'csv-stringify/sync';
import { parseBytes, parseDurationMs } from '../../core/units.ts';
import { HttpOrigin } from '../testbed/http-origin.ts';
import { REPO_ROOT, removeDir, startBin, tempDir, type RunningProcess } from '../testbed/processes.ts';
import { fetchTask } from '../testbed/script-peer.ts';
import { memoryOf } from './rss.ts';

interface Options { supernodeUpLimit: number; peers: number; workers: number; tasks: number; fileSize: number; pieceSize: number; timeout: number; out: string }

const MiB = 1024 * 1024;
const children = new Set<ChildProcess>();

function options(argv: string[]): Options {
  return new Command('bench:load').description('scripted WebSocket peers on one supernode: completion and the supernode\'s memory per peer and per task')
    .option('--peers <n>', 'peers pulling one task at once', Number, 2000)
    .option('--workers <n>', 'processes the peers run in', Number, 2)
    .option('--tasks <n>', 'tasks (one peer each) for the memory per task', Number, 200)
    .option('--file-size <size>', 'size of the task the peers pull', parseBytes, MiB)
    .option('--piece-size <size>', 'the supernode\'s piece size', parseBytes, 256 * 1024)
    .option('--supernode-up-limit <n>', 'the supernode\'s concurrent uploads (its scheduler setting; 32 by default in production)', Number, 128)
    .option('--timeout <duration>', 'give up on a peer after this long', parseDurationMs, 600_000)
    .option('--out <dir>', 'report directory', 'out/load')
    .parse(argv).opts<Options>();
}

const content = (size: number, salt: number): Buffer => {
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 131 + salt * 7 + (i >> 10)) & 0xff;
  return bytes;
};
const digest = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function perTask(sn: RunningProcess, origin: HttpOrigin, tasks: number): Promise<{ before: number; after: number }> {
  for (let t = 0; t < tasks; t++) await origin.put(`/task-${t}.bin`, content(64 * 1024, t));
  const before = memoryOf(sn.child.pid!).rssBytes;
  for (let t = 0; t < tasks; t += 20) {
    await Promise.all(Array.from({ length: Math.min(20, tasks - t) }, (_, k) =>
      fetchTask(sn.addr, { url: origin.urlFor(`/task-${t + k}.bin`), headers: {} }, `task-peer-${t + k}`, 60_000)));
  }
  return { before, after: memoryOf(sn.child.pid!).rssBytes };
}

function runWorker(addr: string, url: string, first: number, count: number, expected: string, timeoutMs: number): Promise<{ done: number; failed: number; reasons: string[] }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'bench/load/worker.ts'), addr, url, String(first), String(count), expected, String(timeoutMs)],
    { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(child);
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString(); });
  return new Promise((resolve) => child.on('exit', () => {
    children.delete(child);
    try { resolve(JSON.parse(out.trim().split('\n').pop() ?? '')); } catch { resolve({ done: 0, failed: count, reasons: [`worker exited without a result: ${out.slice(-200)}`] }); }
  }));
}

async function perPeer(sn: RunningProcess, origin: HttpOrigin, o: Options): Promise<{ before: number; peak: number; done: number; failed: number; reasons: string[]; seconds: number }> {
  const file = content(o.fileSize, 999);
  await origin.put('/load.bin', file);
  const before = memoryOf(sn.child.pid!).rssBytes;
  let peak = before;
  const sampler = setInterval(() => { try { peak = Math.max(peak, memoryOf(sn.child.pid!).rssBytes); } catch { /* exited */ } }, 100);
  const started = Date.now();
  const per = Math.ceil(o.peers / o.workers);
  const results = await Promise.all(Array.from({ length: o.workers }, (_, w) =>
    runWorker(sn.addr, origin.urlFor('/load.bin'), w * per, Math.min(per, o.peers - w * per), digest(file), o.timeout)));
  clearInterval(sampler);
  peak = Math.max(peak, memoryOf(sn.child.pid!).rssBytes);
  const sum = (pick: (r: { done: number; failed: number }) => number): number => results.reduce((a, r) => a + pick(r), 0);
  return { before, peak, done: sum((r) => r.done), failed: sum((r) => r.failed), reasons: results.flatMap((r) => r.reasons), seconds: (Date.now() - started) / 1000 };
}

async function main(argv: string[]): Promise<number> {
  const o = options(argv);
  const home = tempDir('load');
  const origin = await HttpOrigin.start();
  let sn: RunningProcess | null = null;
  const stop = (): void => { for (const c of children) c.kill('SIGKILL'); sn?.child.kill('SIGKILL'); removeDir(home); };
  process.on('SIGINT', () => { stop(); process.exit(130); });
  try {
    sn = await startBin('supernode', ['--home', join(home, 'sn'), '--piece-size-bytes', String(o.pieceSize), '--max-connections-per-address', String(4 * o.peers + 100),
      '--supernode-up-limit', String(o.supernodeUpLimit),
      '--log-level', 'warn'], { portFlag: '--port', readyTimeoutMs: 60_000 });
    const idle = memoryOf(sn.child.pid!).rssBytes;
    const tasks = await perTask(sn, origin, o.tasks);
    const peers = await perPeer(sn, origin, o);
    const hwm = memoryOf(sn.child.pid!).peakRssBytes;
    const rows: [string, string][] = [
      ['peers', String(o.peers)], ['peers completed (file verified)', String(peers.done)], ['peers failed', String(peers.failed)],
      ['file', `${(o.fileSize / MiB).toFixed(1)} MiB in ${Math.ceil(o.fileSize / o.pieceSize)} pieces`], ['pull wall time', `${peers.seconds.toFixed(1)} s`],
      ['supernode RSS idle', mb(idle)], ['supernode peak RSS (VmHWM)', mb(hwm)], ['supernode RSS before the peers', mb(peers.before)],
      ['supernode peak RSS while they pulled', mb(peers.peak)], ['memory per peer', kb((peers.peak - peers.before) / o.peers)],
      ['tasks (one peer each, 64 KiB)', String(o.tasks)], ['memory per task', kb((tasks.after - tasks.before) / o.tasks)],
      ['load average at the end (1/5/15 min, 2 cores)', loadavg().map((l) => l.toFixed(2)).join(' / ')],
    ];
    report(o.out, argv.length > 2 ? `npm run bench:load -- ${argv.slice(2).join(' ')}` : 'npm run bench:load', rows, peers.reasons);
    return peers.done === o.peers ? 0 : 1;
  } finally {
    await sn?.stop();
    stop();
    await origin.close();
  }
}

const mb = (bytes: number): string => `${(bytes / MiB).toFixed(1)} MiB`;
const kb = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KiB`;

function report(out: string, command: string, rows: [string, string][], reasons: string[]): void {
  mkdirSync(out, { recursive: true });
  const md = ['# Load: scripted peers on one supernode', '', `\`${command}\``, '', '| figure | value |', '|---|---:|', ...rows.map(([k, v]) => `| ${k} | ${v} |`), '',
    ...(reasons.length > 0 ? ['## First failures', '', ...reasons.map((r) => `- ${r}`), ''] : [])].join('\n');
  writeFileSync(join(out, 'load.md'), md);
  writeFileSync(join(out, 'load.csv'), stringify(rows, { header: true, columns: ['figure', 'value'] }));
  for (const [k, v] of rows) console.log(`${k.padEnd(48)} ${v}`);
  console.log(`report: ${join(out, 'load.md')}`);
}

main(process.argv).then((code) => process.exit(code), (err: Error) => { console.error(err.stack ?? err.message); process.exit(2); });
