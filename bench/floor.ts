/**
 * The machine's floor under issue 12's transport targets: what the work that no verifying
 * design can skip costs in CPU on this machine, measured the way bench:transport measures our
 * processes (user + system of a child process, `times` of its shell), and what that leaves of
 * each target.
 *
 *   npm run bench:floor -- [--bytes 1GiB] [--rounds 3] [--hosts 16] [--swarm-file 256MiB] [--cap 50MB] [--cores N]
 *
 * Measured, each in its own child process, per GiB:
 *   write      new files written through the page cache in 4 MiB positioned writes (what dfget
 *              and the CDN do with every verified piece), after the same disk preparation as
 *              bench:transport (bench/testbed/disk-prep.ts: a sync, a scratch file written and
 *              deleted); once `--bytes`, once as much as the swarm writes (what a byte of new
 *              page cache costs on this VM moves with what was freed before it and how much is
 *              written: README, "Every client downloads on a prepared disk")
 *   sha256     SHA-256 of in-memory 4 MiB buffers (every piece is verified; the CDN also hashes
 *              the whole file)
 *   tcp send / tcp recv   one loopback TCP connection, sender and receiver separately (the
 *              receiver reads into one reused buffer: no allocation, no copy beyond the kernel's)
 *   start      one Node process loading dfget's bundle, and one loading the uploader's (each
 *              host of a swarm starts both), in CPU seconds per start, not per GiB
 *   curl       `curl -o` of the file from a local origin, after the disk preparation
 *
 * Floors, from those figures (nothing of our own code: every term is the bare operation):
 *   cold one host (our processes)  CDN: recv + sha256 x 2 + write + send;  dfget: recv + sha256 + write
 *   warm one host                  supernode or uploader: send;  dfget: recv + sha256 + write
 *   swarm                          the CDN's copy (recv + sha256 x 2 + write + send) plus every
 *                                  host's (send + recv + sha256 + write) and its two starts,
 *                                  spread perfectly over `--cores`; against direct pulls at the
 *                                  cap (hosts x file / cap), which take no less than that
 * and each floor's ratio to the target: the CPU target (2 x curl) and the swarm target (8 x).
 * Writes floor.csv (one row per measurement and one per floor) to --out.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { stringify } from 'csv-stringify/sync';
import { formatBytes, parseBytes, parseRate } from '../core/units.ts';
import { haveCommand, runTimed } from './testbed/cpu.ts';
import { prepareDiskFor } from './testbed/disk-prep.ts';
import { HttpOrigin } from './testbed/http-origin.ts';
import { REPO_ROOT, removeDir, tempDir } from './testbed/processes.ts';
import { writeRandomFile } from './testbed/random-file.ts';
import { median } from './median.ts';
import { flagValue } from './flag-value.ts';

const GiB = 2 ** 30;
const CHUNK_BYTES = 4 * 2 ** 20;
/**
 * Distinct 4 MiB source buffers the writes, hashes and sends cycle through (64 MiB, beyond any
 * CPU cache), as a download's pieces are: one hot buffer would measure a cache, not the machine.
 */
const SOURCE_BUFFERS = 16;

/**
 * A child script that runs `setup`, then prints the CPU seconds of `work` alone (neither the
 * process's start nor the setup counts). Children write with process.stdout.write: console.log
 * would colour a number when FORCE_COLOR is set (as test runners do).
 */
const TIMED = (setup: string, work: string): string =>
  `${setup}\nconst cpu0 = process.cpuUsage();\n${work}\nconst c = process.cpuUsage(cpu0); process.stdout.write((c.user + c.system) / 1e6 + '\\n');`;

/** argv: dir total fileBytes chunkBytes. New files, positioned writes, closed; deleted by the parent. */
const WRITE = TIMED(`
const fs = require('node:fs'); const [dir, total, fileBytes, chunk] = process.argv.slice(1).map((v, i) => i === 0 ? v : Number(v));
const bufs = Array.from({ length: ${SOURCE_BUFFERS} }, () => require('node:crypto').randomBytes(chunk));`, `
for (let f = 0, done = 0, i = 0; done < total; f++) {
  const fd = fs.openSync(dir + '/f' + f, 'w');
  for (let pos = 0; pos < fileBytes && done < total; pos += chunk, done += chunk) fs.writeSync(fd, bufs[i++ % bufs.length], 0, chunk, pos);
  fs.closeSync(fd);
}`);

/** argv: total chunkBytes. */
const SHA256 = TIMED(`
const { createHash, randomBytes } = require('node:crypto'); const [total, chunk] = process.argv.slice(1).map(Number);
const bufs = Array.from({ length: ${SOURCE_BUFFERS} }, () => randomBytes(chunk)); let out = 0;`, `
for (let done = 0, i = 0; done < total; done += chunk) out ^= createHash('sha256').update(bufs[i++ % bufs.length]).digest()[0];
if (out < 0) process.exitCode = 3;`);

/**
 * argv: total chunkBytes. Listens on 127.0.0.1, prints its port, sends `total` bytes to the first
 * connection in 4 MiB writes, then prints the CPU seconds the sending took.
 */
const TCP_SEND = `
const net = require('node:net'); const [total, chunk] = process.argv.slice(1).map(Number);
const bufs = Array.from({ length: ${SOURCE_BUFFERS} }, (_, i) => Buffer.alloc(chunk, i));
// Nobody connecting within a minute means the receiver is gone: do not linger.
const orphaned = setTimeout(() => process.exit(2), 60_000);
const server = net.createServer((s) => {
  clearTimeout(orphaned);
  const cpu0 = process.cpuUsage(); let sent = 0; let i = 0;
  const pump = () => { while (sent < total) { sent += chunk; if (!s.write(bufs[i++ % bufs.length])) return void s.once('drain', pump); } s.end(); };
  s.on('close', () => { const c = process.cpuUsage(cpu0); process.stdout.write((c.user + c.system) / 1e6 + '\\n'); server.close(); });
  pump();
});
server.listen(0, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));`;

/** argv: total chunkBytes sendScript. Starts the sender, receives into one reused buffer (onread); prints "recvCpu sendCpu". */
const TCP_RECV = `
const net = require('node:net'); const { spawn } = require('node:child_process');
const [total, chunk] = process.argv.slice(1, 3).map(Number);
const child = spawn(process.execPath, ['-e', process.argv[3], String(total), String(chunk)], { stdio: ['ignore', 'pipe', 'inherit'] });
let out = ''; let recvCpu = -1; let connected = false;
child.stdout.on('data', (d) => {
  out += d;
  if (connected || !out.includes('\\n')) return;
  connected = true;
  const buf = Buffer.alloc(chunk); let got = 0; const cpu0 = process.cpuUsage();
  const sock = net.connect({ port: Number(out.split('\\n')[0]), host: '127.0.0.1', onread: { buffer: buf, callback: (n) => { got += n; } } });
  sock.on('end', () => {
    const c = process.cpuUsage(cpu0);
    if (got !== total) { console.error('received ' + got + ' of ' + total); child.kill(); process.exit(1); }
    recvCpu = (c.user + c.system) / 1e6;
  });
});
child.on('close', (code) => {
  if (code !== 0 || recvCpu < 0) { console.error('the sender failed'); process.exit(1); }
  process.stdout.write(recvCpu + ' ' + out.trim().split('\\n')[1] + '\\n');
});`;

/** One line of floor.csv: `id` names it for scripts, `item` for people. */
interface Row { id: string; value: number; item: string; note: string }

const opts = new Command('bench:floor')
  .description('what the unavoidable work of issue 12\'s targets costs in CPU on this machine, and the floor it sets under each target')
  .option('--bytes <size>', 'bytes per measurement (write, sha256, tcp, curl)', '1GiB')
  .option('--hosts <n>', 'hosts in the swarm floor', '16')
  .option('--swarm-file <size>', 'file of the swarm floor', '256MiB')
  .option('--cap <rate>', 'origin egress cap of the swarm floor', '50MB')
  .option('--rounds <n>', 'rounds of every measurement, interleaved (medians are reported)', '3')
  .option('--cores <n>', 'cores the swarm floor may spread over (this machine\'s count by default)', String(cpus().length))
  .option('--out <dir>', 'where floor.csv goes', 'out/bench')
  .parse()
  .opts<{ bytes: string; rounds: string; hosts: string; swarmFile: string; cap: string; cores: string; out: string }>();

const parsed = <T>(flag: string, parse: () => T): T => flagValue('bench:floor', flag, parse);
/** Whole 4 MiB chunks: every measurement moves the buffers whole. */
const bytes = Math.floor(parsed('--bytes', () => parseBytes(opts.bytes)) / CHUNK_BYTES) * CHUNK_BYTES;
const hosts = Number(opts.hosts);
const swarmFileBytes = parsed('--swarm-file', () => parseBytes(opts.swarmFile));
const capBytesPerSec = parsed('--cap', () => parseRate(opts.cap));
const cores = Number(opts.cores);
const rounds = Number(opts.rounds);
if (!(bytes >= CHUNK_BYTES) || !Number.isInteger(hosts) || hosts < 1 || !Number.isInteger(rounds) || rounds < 1 || !(cores > 0) || !(capBytesPerSec > 0)) {
  console.error('bench:floor: --bytes must be at least 4MiB, --hosts and --rounds positive integers, --cores and --cap positive');
  process.exit(2);
}
const gib = bytes / GiB;
const root = tempDir('bench-floor');
const rows: Row[] = [];
const add = (id: string, item: string, value: number, note: string): number => {
  rows.push({ id, value, item, note });
  console.log(`${item.padEnd(34)}${value.toFixed(3).padStart(8)}  ${note}`);
  return value;
};

/** Run a script in a child; its last line of output is the CPU seconds of its work. */
async function workCpu(script: string, args: string[]): Promise<string> {
  const { stdout } = await runTimed(process.execPath, ['-e', script, ...args]);
  return stdout.trim().split('\n').pop()!;
}

/** One round of every measurement (per GiB; `start` in seconds per host). */
async function measureRound(originUrl: string | null): Promise<Record<string, number>> {
  const writeDir = join(root, 'write');
  const writeCpu = async (totalBytes: number): Promise<number> => {
    mkdirSync(writeDir);
    prepareDiskFor(root, totalBytes);
    const seconds = Number(await workCpu(WRITE, [writeDir, String(totalBytes), String(256 * 2 ** 20), String(CHUNK_BYTES)]));
    rmSync(writeDir, { recursive: true, force: true });
    return seconds / (totalBytes / GiB);
  };
  const write = await writeCpu(bytes);
  // A swarm writes every host's copy and the CDN's: measured at that volume too, as its floor uses it.
  const swarmWrite = await writeCpu((hosts + 1) * swarmFileBytes);
  const sha = Number(await workCpu(SHA256, [String(bytes), String(CHUNK_BYTES)])) / gib;
  const [recvCpu, sendCpu] = (await workCpu(TCP_RECV, [String(bytes), String(CHUNK_BYTES), TCP_SEND])).split(' ').map(Number);
  const bundle = (path: string): string => join(REPO_ROOT, 'dist', 'bundle', 'transport', path);
  // dfget's bundle exports its main (bin/dfget.js calls it); the uploader's runs on load, and `--help` ends it once parsed.
  const dfgetStart = (await runTimed(process.execPath, ['-e', `import(${JSON.stringify(bundle('dfget/cli.mjs'))})`])).cpuSeconds;
  const uploaderStart = (await runTimed(process.execPath, [bundle('uploader/main.mjs'), '--help'])).cpuSeconds;
  let curl = NaN;
  if (originUrl) {
    prepareDiskFor(root, bytes);
    curl = (await runTimed('curl', ['--silent', '--show-error', '--fail', '-o', join(root, 'curl.bin'), originUrl])).cpuSeconds / gib;
    rmSync(join(root, 'curl.bin'), { force: true });
  }
  return { write, swarmWrite, sha, recv: recvCpu / gib, send: sendCpu / gib, start: dfgetStart + uploaderStart, curl };
}

try {
  console.log(`bench:floor: ${formatBytes(bytes)} per measurement, ${rounds} rounds (medians), ${cores} cores; CPU seconds per GiB unless said`);
  let origin: HttpOrigin | null = null;
  if (haveCommand('curl')) {
    await writeRandomFile(join(root, 'origin.bin'), bytes);
    origin = await HttpOrigin.start({});
    await origin.put('/f', { filePath: join(root, 'origin.bin') });
  } else {
    console.log('(no curl here: the CPU targets are not compared)');
  }
  const measured: Record<string, number>[] = [];
  try {
    for (let round = 1; round <= rounds; round++) {
      measured.push(await measureRound(origin ? origin.urlFor('/f') : null));
      console.error(`round ${round}: ${Object.entries(measured[round - 1]).map(([k, v]) => `${k} ${v.toFixed(3)}`).join(', ')}`);
    }
  } finally {
    await origin?.close();
  }
  const m = (key: string): number => median(measured.map((r) => r[key]));
  const write = add('write', 'write (page cache, new files)', m('write'), 'positioned 4 MiB writes into new 256 MiB files, after a sync and a scratch file');
  const swarmWrite = add('swarmWrite', 'write, as much as a swarm writes', m('swarmWrite'), `the same, ${formatBytes((hosts + 1) * swarmFileBytes)} (every host's copy and the CDN's)`);
  const sha = add('sha256', 'sha256', m('sha'), '4 MiB buffers in memory');
  const recv = add('tcpRecv', 'tcp recv (loopback)', m('recv'), 'into one reused 4 MiB buffer (net onread)');
  const send = add('tcpSend', 'tcp send (loopback)', m('send'), '4 MiB socket writes');
  const start = add('start', 'start dfget + uploader (s per host)', m('start'),
    'two Node processes loading the built bundles, nothing else (a floor: a real start also registers and connects)');
  const curl = origin ? add('curl', 'curl -o (its own CPU)', m('curl'), 'from a local origin, after the disk preparation') : NaN;

  console.log('\nfloors (the bare operations above, no code of ours):');
  const cdn = recv + 2 * sha + write + send;
  const hostOne = recv + sha + write;
  add('floorCold', 'floor: cold one host, per GiB', cdn + hostOne, `CDN ${cdn.toFixed(2)} + dfget ${hostOne.toFixed(2)}; ${ofCpuTarget(cdn + hostOne)}; its three SHA-256 passes alone ${(3 * sha).toFixed(2)}`);
  add('floorWarm', 'floor: warm one host, per GiB', send + hostOne, ofCpuTarget(send + hostOne));
  const swarmGib = (hosts * swarmFileBytes) / GiB;
  const swarmCpu = (cdn - write + swarmWrite) * (swarmFileBytes / GiB) + swarmGib * (send + hostOne - write + swarmWrite) + hosts * start;
  const swarmS = swarmCpu / cores;
  const directS = (hosts * swarmFileBytes) / capBytesPerSec;
  add('floorSwarmSeconds', 'floor: swarm, seconds', swarmS,
    `${hosts} x ${formatBytes(swarmFileBytes)}: ${swarmCpu.toFixed(1)} CPU s on ${cores} cores; direct pulls at the cap ${directS.toFixed(1)} s, so at best ${(directS / swarmS).toFixed(1)} x (target 8 x needs <= ${(directS / 8).toFixed(1)} s)`);
  mkdirSync(opts.out, { recursive: true });
  writeFileSync(join(opts.out, 'floor.csv'), stringify(rows, { header: true }));
  console.log(`wrote ${join(opts.out, 'floor.csv')}`);

  function ofCpuTarget(floorPerGib: number): string {
    if (Number.isNaN(curl)) return 'no curl here to compare with';
    return `target 2 x curl = ${(2 * curl).toFixed(2)}: the floor alone is ${(floorPerGib / (2 * curl)).toFixed(2)} x the target`;
  }
} finally {
  removeDir(root);
}
