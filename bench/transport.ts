/**
 * Real transport on loopback, against DESIGN §6 and issue 12:
 *
 * 1. one host: `curl -o` and a plain Node GET of a file from an origin, then `dfget` of the same
 *    file (a fresh supernode: cold CDN; then again from the same home: CDN and uploader warm), all
 *    writing to disk. Throughput ratio = baseline time / dfget time (targets: cold >= 0.5, warm
 *    >= 0.8 of curl). CPU per GiB delivered counts every process of ours — dfget, the supernode,
 *    the background uploader — beside curl's own (target: within 2x). dfget runs with
 *    `--locallimit 0`: the seed's default 10 MB/s per task would measure the limit, not the
 *    transport. The cases run in rounds, interleaved, and the medians are reported, so a change
 *    of load on a shared machine hits baseline and dfget alike.
 * 2. a swarm: N dfget versus N direct pulls behind an origin capped in bandwidth; the ratio is the
 *    last direct pull's time / the last dfget's time (DESIGN wants >= 8) and origin copies are the
 *    origin's body bytes / the file size (DESIGN wants <= 1.05).
 *
 * Every time is wall clock from process spawn to exit, so dfget pays its start-up (node, the
 * compiled JavaScript, a background uploader) and the supernode's CDN fetch. The load average at
 * each measurement is printed and kept in the CSV. Linux only (CPU times come from /proc).
 *
 * Just before each measured download (every client: curl, node GET, dfget, the swarms) the disk
 * is prepared (testbed/disk-prep.ts): `sync`, so no case shares the machine with the writeback of
 * another's files, then a scratch file as large as what it will write is written and deleted: on
 * this development machine a new file's writes cost three times the CPU unless as much was
 * deleted just before, so otherwise the cases' order, not the software, would decide part of the
 * result. `--no-disk-prep` measures without either.
 *
 *   npm run bench:transport -- [--big 1GiB] [--rounds 3] [--swarm-file 256MiB] [--hosts 16] [--cap 50MB]
 *     [--cases one,swarm,shaped] [--shaped-file-size 128MiB] [--shaped-queues fifo|small-first|host-small-first] [--out out/bench]
 *
 * 3. shaped (root only): 16 hosts on the calibration testbed's tc-shaped links behind an origin
 *    capped at the host rate, against T_min and 16 direct pulls on the same links
 *    (transport-shaped.ts; targets: within 1.2 x T_min, >= 10 x direct, origin <= 1.05 copies).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { stringify } from 'csv-stringify/sync';
import { formatBytes, parseBytes, parseRate } from '../core/units.ts';
import type { DownloadResult } from '../transport/dfget/download.ts';
import { readLock } from '../transport/uploader/uploader-lock.ts';
import { haveCommand, processCpuSeconds, runTimed } from './testbed/cpu.ts';
import { HttpOrigin } from './testbed/http-origin.ts';
import { prepareDiskFor } from './testbed/disk-prep.ts';
import { runShapedCase, SHAPED_SCENARIO, type ShapedResult } from './transport-shaped.ts';
import { QUEUE_MODES, type QueueMode } from './calibrate/netns.ts';
import { formatSplit, RoleWatch, splitByRole, startPerf, type RoleSplit } from './testbed/perf-split.ts';
import { stopUploaderOf } from './testbed/stop-uploader.ts';
import { writeRandomFile } from './testbed/random-file.ts';
import { removeDir, startBin, tempDir, timeDfget, timeProcess, type RunningProcess, type TimedDfget } from './testbed/processes.ts';
import { median } from './median.ts';
import { flagValue, wholeNumberAtLeast } from './flag-value.ts';

/** A plain HTTP download to a file, in a bare node process: the Node baseline. */
const DIRECT_GET = `
const http = require('node:http'); const fs = require('node:fs');
http.get(process.argv[1], (res) => {
  if (res.statusCode !== 200) { console.error('status ' + res.statusCode); process.exit(1); }
  res.pipe(fs.createWriteStream(process.argv[2])).on('finish', () => process.exit(0));
}).on('error', (e) => { console.error(e.message); process.exit(1); });`;

const GiB = 2 ** 30;

interface Measure {
  case: string;
  round: number;
  fileBytes: number;
  seconds: number;
  /** CPU of every process of ours (or the baseline client), user + system. */
  cpuSeconds: number;
  dfgetCpuSeconds: number;
  supernodeCpuSeconds: number;
  uploaderCpuSeconds: number;
  originCopies: number;
  peersPercent: number;
  load1: number;
  /** Scratch bytes written and deleted just before the download, after a sync (--no-disk-prep: 0). */
  scratchBytes: number;
}

interface SwarmRow {
  hosts: number;
  fileBytes: number;
  originCapBytesPerSec: number;
  /** The 16 direct pulls' time; with --no-direct-pulls the time the cap allows them (hosts x file / cap). */
  directSeconds: number;
  directMeasured: boolean;
  dfgetSeconds: number;
  ratio: number;
  originCopies: number;
  peersPercent: number;
  sourcePercent: number;
  cpuSecondsPerGib: number;
  /** The same CPU split by process: every dfget, every background uploader, the supernode (per GiB delivered). */
  dfgetCpuSecondsPerGib: number;
  uploaderCpuSecondsPerGib: number;
  supernodeCpuSecondsPerGib: number;
  load1: number;
  /** Scratch bytes written and deleted just before the swarm's dfgets, after a sync (--no-disk-prep: 0). */
  scratchBytes: number;
}

const opts = new Command('bench:transport')
  .option('--big <size>', 'file for the one-host comparison', '1GiB')
  .option('--rounds <n>', 'rounds of the one-host comparison (medians are reported)', '3')
  .option('--swarm-file <size>', 'file for the swarm comparison', '256MiB')
  .option('--hosts <n>', 'hosts in the swarm comparison', '16')
  .option('--cap <rate>', 'origin egress cap in the swarm comparison', '50MB')
  .option('--cases <list>', 'which comparisons to run: one, swarm, shaped (netns testbed, needs root)', 'one,swarm,shaped')
  .option('--shaped-file-size <size>', 'shaped: file size instead of the shaped-16 scenario\'s 32 MiB (its direct pulls take 16 x file / 3.42 MiB/s: about 10 min at 128MiB)')
  .addOption(new Option('--shaped-queues <mode>', 'shaped: how the shaped links queue (calibrate --queues): fifo, small-first (small packets first on every link) '
    + 'or host-small-first (so on the nodes\' uplinks only, switch ports FIFO)').choices([...QUEUE_MODES]).default('fifo'))
  .option('--out <dir>', 'where transport.csv and transport-swarm.csv go', 'out/bench')
  .option('--no-direct-pulls', 'swarm: skip the direct pulls (about 87 s) and compare with the time the origin\'s cap allows them, hosts x file / cap (for profiling runs; the measured pulls take about 1 % longer)')
  .option('--perf', 'swarm: record `perf record -a -g` over the dfgets and print where the CPU went, by process role and kind of work (needs linux perf; see bench/testbed/perf-split.ts)')
  .option('--no-disk-prep', 'do not prepare the disk before each download (by default every client\'s download comes right after a sync and a scratch file as large as its writes written and deleted, see bench/testbed/disk-prep.ts)')
  .parse()
  .opts<{ big: string; rounds: string; swarmFile: string; hosts: string; cap: string; cases: string; out: string; diskPrep: boolean; directPulls: boolean; perf?: boolean;
    shapedFileSize?: string; shapedQueues: QueueMode }>();

const flag = <T>(name: string, parse: () => T): T => flagValue('bench:transport', name, parse);
const bigBytes = flag('--big', () => parseBytes(opts.big));
const rounds = flag('--rounds', () => wholeNumberAtLeast(opts.rounds, 1));
const swarmFileBytes = flag('--swarm-file', () => parseBytes(opts.swarmFile));
const swarmHosts = flag('--hosts', () => wholeNumberAtLeast(opts.hosts, 1));
const capBytesPerSec = flag('--cap', () => {
  const rate = parseRate(opts.cap);
  if (!(rate > 0)) throw new Error(`expected a rate above 0 (the swarm case compares with pulls through this cap), got "${opts.cap}"`);
  return rate;
});
if (opts.shapedFileSize !== undefined) flag('--shaped-file-size', () => parseBytes(opts.shapedFileSize!));

/** Prepare the disk for the next download, which writes `writesBytes` (unless --no-disk-prep); the scratch bytes. */
function beforeDownload(writesBytes: number): number {
  if (!opts.diskPrep) return 0;
  const { synced, scratchBytes } = prepareDiskFor(root, writesBytes);
  if (!synced) console.log('  (no sync: the `sync` command failed or is missing)');
  if (scratchBytes === 0) console.log(`  (no scratch file: less than ${formatBytes(2 * writesBytes)} free in ${root})`);
  return scratchBytes;
}

const root = tempDir('bench-transport');
const measures: Measure[] = [];
const swarmRows: SwarmRow[] = [];
/** --perf: where the swarm's CPU went (the last swarm run). */
let swarmSplit: RoleSplit[] | null = null;

/** The role of one of the swarm's processes, from its command line (the bench itself serves the origin). */
function roleOf(cmdline: string): string | null {
  if (cmdline.includes('uploader/main')) return 'uploader';
  if (cmdline.includes('bin/dfget.js')) return 'dfget';
  if (cmdline.includes('bin/supernode.js')) return 'supernode';
  return null;
}
const load1 = (): number => loadavg()[0];

function measure(fields: Partial<Measure> & Pick<Measure, 'case' | 'round' | 'fileBytes' | 'seconds' | 'cpuSeconds'>): Measure {
  const m: Measure = { scratchBytes: 0, dfgetCpuSeconds: 0, supernodeCpuSeconds: 0, uploaderCpuSeconds: 0, originCopies: 0, peersPercent: 0, load1: load1(), ...fields };
  measures.push(m);
  console.log(`  round ${m.round + 1} ${m.case.padEnd(12)} ${m.seconds.toFixed(2).padStart(7)} s  CPU ${m.cpuSeconds.toFixed(2).padStart(6)} s  load ${m.load1.toFixed(1)}`);
  return m;
}

function dfget(url: string, home: string, supernode: string): Promise<TimedDfget> {
  return timeDfget(url, home, supernode, ['--locallimit', '0', '--uploader-idle-exit', '20s']);
}

/** Share of the bytes of these runs that came from other peers, in percent. */
function peersPercent(results: DownloadResult[]): number {
  const sum = (f: (r: DownloadResult) => number): number => results.reduce((s, r) => s + f(r), 0);
  return (100 * sum((r) => r.fromPeersBytes)) / (sum((r) => r.fromPeersBytes + r.fromSupernodeBytes + r.fromSourceBytes) || 1);
}

async function uploaderPid(home: string): Promise<number | null> {
  return (await readLock(home))?.pid ?? null;
}

/** A dfget run with the CPU of the supernode and of the home's uploader during it. */
async function dfgetWithCpu(url: string, home: string, sn: RunningProcess): Promise<{ run: TimedDfget; supernodeCpu: number; uploaderCpu: number }> {
  const snBefore = processCpuSeconds(sn.child.pid!) ?? 0;
  const pidBefore = await uploaderPid(home);
  const upBefore = pidBefore !== null ? processCpuSeconds(pidBefore) ?? 0 : 0;
  const run = await dfget(url, home, sn.addr);
  const snAfter = processCpuSeconds(sn.child.pid!) ?? snBefore;
  const pidAfter = await uploaderPid(home);
  const upAfter = pidAfter !== null ? processCpuSeconds(pidAfter) ?? 0 : 0;
  return { run, supernodeCpu: snAfter - snBefore, uploaderCpu: upAfter - (pidAfter === pidBefore ? upBefore : 0) };
}

async function baselines(url: string, round: number, sizeBytes: number): Promise<void> {
  const output = join(root, 'direct.bin');
  if (haveCommand('curl')) {
    const scratchBytes = beforeDownload(sizeBytes);
    const curl = await runTimed('curl', ['--silent', '--show-error', '--fail', '-o', output, url]);
    measure({ case: 'curl -o', round, fileBytes: sizeBytes, seconds: curl.wallSeconds, cpuSeconds: curl.cpuSeconds, scratchBytes });
    removeDir(output);
  }
  const scratchBytes = beforeDownload(sizeBytes);
  const node = await timeProcess(['-e', DIRECT_GET, url, output]);
  measure({ case: 'node GET', round, fileBytes: sizeBytes, seconds: node.seconds, cpuSeconds: node.cpuSeconds, scratchBytes });
  removeDir(output);
}

async function dfgetRound(url: string, round: number, sizeBytes: number, origin: HttpOrigin): Promise<void> {
  // A fresh supernode and home: the first run is cold; the second, from the same home, finds
  // the CDN cached and this host's uploader running.
  const home = join(root, `one-${round}`);
  const sn = await startBin('supernode', ['--home', join(root, `sn-${round}`)], { portFlag: '--port' });
  try {
    origin.resetStats();
    for (const phase of ['dfget cold', 'dfget warm']) {
      // Cold writes the CDN's copy and dfget's; warm only dfget's.
      const scratchBytes = beforeDownload(phase === 'dfget cold' ? 2 * sizeBytes : sizeBytes);
      const { run, supernodeCpu, uploaderCpu } = await dfgetWithCpu(url, home, sn);
      measure({
        scratchBytes,
        case: phase, round, fileBytes: sizeBytes, seconds: run.seconds, cpuSeconds: run.cpuSeconds + supernodeCpu + uploaderCpu,
        dfgetCpuSeconds: run.cpuSeconds, supernodeCpuSeconds: supernodeCpu, uploaderCpuSeconds: uploaderCpu,
        originCopies: phase === 'dfget cold' ? origin.bytesSentFor('/big.bin') / sizeBytes : 0, peersPercent: peersPercent([run.result]),
      });
      removeDir(join(home, 'out.bin'));
    }
  } finally {
    await sn.stop();
    await stopUploaderOf(home);
    removeDir(join(root, `sn-${round}`));
    removeDir(home);
  }
}

async function oneHost(): Promise<void> {
  const sizeBytes = bigBytes;
  const file = join(root, 'big.bin');
  await writeRandomFile(file, sizeBytes);
  const origin = await HttpOrigin.start();
  try {
    await origin.put('/big.bin', { filePath: file });
    const url = origin.urlFor('/big.bin');
    console.log(`one host, ${formatBytes(sizeBytes)}, ${rounds} rounds (load average at start ${loadavg().map((l) => l.toFixed(1)).join(' ')})`);
    for (let round = 0; round < rounds; round++) {
      await baselines(url, round, sizeBytes);
      await dfgetRound(url, round, sizeBytes, origin);
    }
  } finally {
    await origin.close();
    removeDir(file);
  }
}

async function swarm(): Promise<void> {
  const sizeBytes = swarmFileBytes;
  const hosts = swarmHosts;
  const file = join(root, 'swarm.bin');
  await writeRandomFile(file, sizeBytes);
  const origin = await HttpOrigin.start({ rateBytesPerSec: capBytesPerSec });
  const homes = Array.from({ length: hosts }, (_, i) => join(root, `host${i}`));
  try {
    await origin.put('/swarm.bin', { filePath: file });
    const url = origin.urlFor('/swarm.bin');
    const directDir = join(root, 'direct');
    mkdirSync(directDir, { recursive: true });
    console.log(`swarm: ${hosts} hosts, ${formatBytes(sizeBytes)}, origin capped at ${formatBytes(capBytesPerSec)}/s (load average ${loadavg().map((l) => l.toFixed(1)).join(' ')})`);
    let directSeconds = (hosts * sizeBytes) / capBytesPerSec;
    if (opts.directPulls) {
      beforeDownload(hosts * sizeBytes);
      const directTimes = await Promise.all(homes.map((_, i) => timeProcess(['-e', DIRECT_GET, url, join(directDir, `${i}.bin`)])));
      directSeconds = Math.max(...directTimes.map((d) => d.seconds));
    }
    removeDir(directDir);
    const sn = await startBin('supernode', ['--home', tempDir('bench-sn')], { portFlag: '--port' });
    try {
      origin.resetStats();
      // The CDN's copy and every host's.
      const scratchBytes = beforeDownload((hosts + 1) * sizeBytes);
      const load = load1();
      const snBefore = processCpuSeconds(sn.child.pid!) ?? 0;
      const perfFile = join(root, 'swarm.perf.data');
      const watch = opts.perf ? new RoleWatch((cmdline) => roleOf(cmdline)) : null;
      const perf = opts.perf ? startPerf(perfFile) : null;
      const runs = await Promise.all(homes.map((home) => dfget(url, home, sn.addr))).catch(async (err: unknown) => {
        watch?.stop();
        await perf?.stop().catch(() => {});
        throw err;
      });
      if (perf && watch) {
        await perf.stop();
        const roles = watch.stop();
        roles.set(String(process.pid), 'origin');
        swarmSplit = await splitByRole(perfFile, roles);
        removeDir(perfFile);
      }
      const uploaderCpu = (await Promise.all(homes.map(uploaderPid))).reduce<number>((sum, pid) => sum + (pid !== null ? processCpuSeconds(pid) ?? 0 : 0), 0);
      const dfgetCpu = runs.reduce((sum, r) => sum + r.cpuSeconds, 0);
      const supernodeCpu = (processCpuSeconds(sn.child.pid!) ?? snBefore) - snBefore;
      const deliveredGib = (hosts * sizeBytes) / GiB;
      const results = runs.map((r) => r.result);
      const dfgetSeconds = Math.max(...runs.map((r) => r.seconds));
      const sum = (f: (r: DownloadResult) => number): number => results.reduce((s, r) => s + f(r), 0);
      swarmRows.push({
        hosts, fileBytes: sizeBytes, originCapBytesPerSec: capBytesPerSec, directSeconds, directMeasured: opts.directPulls, dfgetSeconds, ratio: directSeconds / dfgetSeconds,
        originCopies: origin.bytesSentFor('/swarm.bin') / sizeBytes, peersPercent: peersPercent(results),
        sourcePercent: (100 * sum((r) => r.fromSourceBytes)) / (sum((r) => r.totalBytes) || 1),
        cpuSecondsPerGib: (dfgetCpu + uploaderCpu + supernodeCpu) / deliveredGib, dfgetCpuSecondsPerGib: dfgetCpu / deliveredGib,
        uploaderCpuSecondsPerGib: uploaderCpu / deliveredGib, supernodeCpuSecondsPerGib: supernodeCpu / deliveredGib, load1: load, scratchBytes,
      });
    } finally {
      await sn.stop();
    }
  } finally {
    for (const home of homes) await stopUploaderOf(home);
    await origin.close();
    removeDir(file);
  }
}

function printOneHost(): void {
  const cases = [...new Set(measures.map((m) => m.case))];
  const med = (name: string, f: (m: Measure) => number): number => median(measures.filter((m) => m.case === name).map(f));
  const curl = med('curl -o', (m) => m.seconds);
  const node = med('node GET', (m) => m.seconds);
  const curlCpu = med('curl -o', (m) => m.cpuSeconds / (m.fileBytes / GiB));
  console.log(`\none host, ${formatBytes(measures[0].fileBytes)} (medians of ${rounds} rounds; ${scratchNote()})`);
  console.log('case          wall s   vs curl   vs node GET   CPU s/GiB   vs curl CPU   (dfget + supernode + uploader)   origin copies   load');
  for (const name of cases) {
    const seconds = med(name, (m) => m.seconds);
    const cpu = med(name, (m) => m.cpuSeconds / (m.fileBytes / GiB));
    const parts = name.startsWith('dfget')
      ? `${med(name, (m) => m.dfgetCpuSeconds).toFixed(2)} + ${med(name, (m) => m.supernodeCpuSeconds).toFixed(2)} + ${med(name, (m) => m.uploaderCpuSeconds).toFixed(2)}`
      : '';
    const copies = med(name, (m) => m.originCopies);
    console.log(`${name.padEnd(12)}${seconds.toFixed(2).padStart(8)}${(curl / seconds).toFixed(2).padStart(10)}${(node / seconds).toFixed(2).padStart(14)}`
      + `${cpu.toFixed(2).padStart(12)}${(cpu / curlCpu).toFixed(2).padStart(14)}   ${parts.padEnd(31)}${(copies ? copies.toFixed(3) : '-').padStart(15)}`
      + `${med(name, (m) => m.load1).toFixed(1).padStart(7)}`);
  }
  console.log('targets: dfget cold >= 0.5 and warm >= 0.8 of curl\'s throughput ("vs curl"); CPU per GiB within 2x curl\'s ("vs curl CPU")');
}

/** What came just before each download, for the tables' titles. */
function scratchNote(): string {
  return opts.diskPrep ? 'each download right after a sync and a scratch file as large as its writes' : 'no disk preparation before downloads (--no-disk-prep)';
}

function printSwarm(): void {
  console.log(`\nswarm (${scratchNote()})`);
  console.log('case                          file       direct s   dfget s   ratio   origin copies   from peers   CPU s/GiB   load');
  for (const r of swarmRows) {
    console.log(`${`${r.hosts} hosts, origin capped`.padEnd(30)}${formatBytes(r.fileBytes).padEnd(11)}${r.directSeconds.toFixed(1).padStart(8)}`
      + `${r.dfgetSeconds.toFixed(1).padStart(10)}${r.ratio.toFixed(2).padStart(8)}${r.originCopies.toFixed(3).padStart(16)}`
      + `${`${r.peersPercent.toFixed(1)}%`.padStart(13)}${r.cpuSecondsPerGib.toFixed(2).padStart(12)}${r.load1.toFixed(1).padStart(7)}`);
    if (!r.directMeasured) console.log(`  direct s: not measured (--no-direct-pulls): ${formatBytes(r.hosts * r.fileBytes)} at the cap`);
    console.log(`  CPU s/GiB delivered = dfget ${r.dfgetCpuSecondsPerGib.toFixed(2)} + uploaders ${r.uploaderCpuSecondsPerGib.toFixed(2)} + supernode ${r.supernodeCpuSecondsPerGib.toFixed(2)}`);
  }
  console.log('targets (DESIGN §6): swarm ratio >= 8; origin copies <= 1.05');
  if (swarmSplit) {
    console.log('\nwhere the swarm\'s CPU went (perf record -a -g over the dfgets; share of each role\'s samples by the first kind on the stack):');
    for (const line of formatSplit(swarmSplit)) console.log(`  ${line}`);
    writeFileSync(join(opts.out, 'transport-swarm-perf.csv'), stringify(swarmSplit.map((r) => ({ role: r.role, cpuSeconds: r.cpuSeconds.toFixed(2), ...Object.fromEntries([...r.byKind].map(([k, v]) => [k, v.toFixed(2)])) })), { header: true }));
  }
}

const cases = opts.cases.split(',');
if (opts.perf && !haveCommand('perf')) {
  console.error('bench:transport: --perf needs linux perf (Debian: apt-get install linux-perf)');
  process.exit(2);
}
let shaped: ShapedResult | { skipped: string } | null = null;
try {
  if (cases.includes('one')) await oneHost();
  if (cases.includes('swarm')) await swarm();
  if (cases.includes('shaped')) shaped = await runShapedCase(opts.out, { fileSize: opts.shapedFileSize, queues: opts.shapedQueues }, (line) => console.log(line));
} finally {
  removeDir(root);
}
mkdirSync(opts.out, { recursive: true });
if (measures.length > 0) {
  printOneHost();
  writeFileSync(join(opts.out, 'transport.csv'), stringify(measures, { header: true }));
  console.log(`wrote ${join(opts.out, 'transport.csv')}`);
}
if (swarmRows.length > 0) {
  printSwarm();
  writeFileSync(join(opts.out, 'transport-swarm.csv'), stringify(swarmRows.map((r) => ({ ...r, directMeasured: r.directMeasured ? 'yes' : 'no' })), { header: true }));
  console.log(`wrote ${join(opts.out, 'transport-swarm.csv')}`);
}
if (shaped) printShaped(shaped);

function printShaped(result: ShapedResult | { skipped: string }): void {
  if ('skipped' in result) return void console.log(`\nshaped case skipped: ${result.skipped}`);
  console.log(`\nshaped: ${result.hosts} hosts, ${formatBytes(result.fileBytes)}, tc-shaped links (${result.queues} queues), origin capped at the host rate (scenario ${SHAPED_SCENARIO})`);
  console.log('T_min s   dfget s   x T_min   direct s   speed-up   origin copies (dfget / direct)   simulated s');
  console.log(`${result.lowerBoundSeconds.toFixed(2).padStart(7)}${result.swarmSeconds.toFixed(2).padStart(10)}${result.overLowerBound.toFixed(2).padStart(10)}`
    + `${result.directSeconds.toFixed(1).padStart(11)}${result.speedup.toFixed(1).padStart(11)}`
    + `${`${result.originCopies.toFixed(3)} / ${result.directOriginCopies.toFixed(3)}`.padStart(33)}${result.simulatedSeconds.toFixed(2).padStart(14)}`);
  console.log('targets (issue 9): dfget within 1.2 x T_min, >= 10 x faster than direct pulls, origin <= 1.05 copies');
  writeFileSync(join(opts.out, 'transport-shaped.csv'), stringify([result], { header: true }));
  console.log(`wrote ${join(opts.out, 'transport-shaped.csv')}`);
}
