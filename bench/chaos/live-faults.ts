/**
 * The live fault kinds, one per round in rotation, each on a fresh swarm of 8 dfget hosts
 * (h0..h7) and a supernode, all on 127.0.0.1. Random moments come from the round's seeded RNG.
 * Each body starts processes through the Round and lets it check every output; faults are
 * counted per kind in the round's outcome.
 */
import { readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomInt } from '../../core/rng.ts';
import { sleep } from '../../transport/real-timer.ts';
import { lie, offeredSources, serveCorrupt } from './hostile-peers.ts';
import { FILE_BYTES, PIECE_BYTES, type Round } from './live-round.ts';
import { canMount, mountSmall } from './tmpfs.ts';

export const SWARM = 8;
/**
 * Liars per lying round by default: fewer than the global-blacklist threshold (5), so a supernode
 * that counts distinct reporters must hold; `--liars` raises it.
 */
export const DEFAULT_LIARS = 4;

export type LiveFault = (r: Round) => Promise<void>;

const between = (r: Round, lo: number, hi: number): number => lo + randomInt(r.rng, hi - lo);

async function killDfget(r: Round): Promise<void> {
  const runs = await r.swarm(0, SWARM);
  await sleep(between(r, 100, 1500));
  const victim = runs[randomInt(r.rng, runs.length)];
  if (!victim.proc.exit) r.fault('kill -9 dfget');
  await victim.proc.kill9();
  await r.settle(runs.filter((run) => run !== victim));
  await r.settle([await r.dfget(victim.host)]);
}

/**
 * Four seeds finish, four newcomers start, and at a random moment two seeds' uploaders (h0 and one
 * of h1..h3) get `signal`, counted as `fault`; the newcomers must still finish.
 */
async function signalSeedUploaders(r: Round, signal: NodeJS.Signals, fault: string, signalled: number[] = []): Promise<void> {
  await r.settle(await r.swarm(0, 4));
  const late = await r.swarm(4, SWARM);
  await sleep(between(r, 50, 800));
  for (const host of [0, 1 + randomInt(r.rng, 3)]) {
    const pid = await r.uploaderPid(host);
    if (pid === null) continue;
    try { process.kill(pid, signal); signalled.push(pid); r.fault(fault); } catch { /* already gone */ }
  }
  await r.settle(late);
}

function killUploader(r: Round): Promise<void> {
  return signalSeedUploaders(r, 'SIGKILL', 'kill -9 uploader');
}

/**
 * Two seeds' uploaders stop answering (SIGSTOP: their sockets stay open and nothing comes back, a
 * hung process) while four newcomers fetch from them. The round's supernode runs the slow-fetch
 * rescue (SLOW_FETCH_RESCUE), so the newcomers give up on the stuck fetches instead of waiting out
 * the 60 s piece timeout; the seeds are resumed when the round closes.
 */
function freezeUploaders(r: Round): Promise<void> {
  const frozen: number[] = [];
  r.onClose(() => { for (const pid of frozen) try { process.kill(pid, 'SIGCONT'); } catch { /* already gone */ } });
  return signalSeedUploaders(r, 'SIGSTOP', 'frozen uploader', frozen);
}

/** Supernode flags of the frozen-uploader rounds: the slow-fetch rescue (core/peer.ts). */
export const SLOW_FETCH_RESCUE = ['--slow-fetch-factor', '3', '--slow-fetch-min-ms', '1000'];

async function killSupernode(r: Round): Promise<void> {
  const runs = await r.swarm(0, SWARM);
  await sleep(between(r, 100, 1500));
  r.fault('kill -9 supernode');
  await r.supernode!.kill9();
  await sleep(between(r, 100, 1000));
  await r.startSupernode();
  await r.settle(runs);
}

/** Flip bytes in the middle of a file, keeping its size and times. */
function rot(path: string): void {
  const before = statSync(path);
  const bytes = readFileSync(path);
  for (let i = 0; i < 64; i++) bytes[(bytes.length >> 1) + i] ^= 0xff;
  writeFileSync(path, bytes);
  utimesSync(path, before.atime, before.mtime);
}

async function bitRotCdn(r: Round): Promise<void> {
  await r.settle([await r.dfget(0)]);
  const cdn = join(r.dir, 'sn', 'cdn');
  const taskDir = readdirSync(cdn).find((name) => /^[0-9a-f]{64}$/.test(name));
  const pieces = taskDir ? readdirSync(join(cdn, taskDir)).filter((name) => name.endsWith('.piece')) : [];
  if (pieces.length === 0) return r.note('no CDN piece file to rot');
  rot(join(cdn, taskDir!, pieces[randomInt(r.rng, pieces.length)]));
  r.fault('bit rot in CDN piece');
  // Half take every piece from the supernode (--pattern cdn), so the rotten piece is served.
  await r.settle([...await r.swarm(1, 4, ['--pattern', 'cdn']), ...await r.swarm(4, SWARM)]);
}

async function bitRotSeed(r: Round): Promise<void> {
  await r.settle(await r.swarm(0, 4));
  for (const host of [0, 1]) {
    const dataDir = join(r.home(host), 'data');
    const backup = readdirSync(dataDir).find((name) => name.endsWith('.server'));
    if (!backup) { r.note(`h${host} has no .server file`); continue; }
    rot(join(dataDir, backup));
    r.fault('bit rot in seed .server');
  }
  await r.settle(await r.swarm(4, SWARM));
}

async function sourceChanges(r: Round): Promise<void> {
  const runs = await r.swarm(0, SWARM);
  await sleep(between(r, 20, 600));
  await r.put(contentFor(r, 1));
  r.fault('source changed mid-fetch');
  await r.settle(runs, true);
}

async function fullDisk(r: Round): Promise<void> {
  if (!canMount()) return r.note('full disk skipped: mounting a tmpfs needs root');
  const host = randomInt(r.rng, SWARM);
  mountSmall(r.home(host), FILE_BYTES / 4);
  r.mounted(r.home(host));
  r.fault('full disk on a home');
  const runs = await r.swarm(0, SWARM);
  await r.settle(runs.filter((run) => run.host !== host));
  await r.settle(runs.filter((run) => run.host === host), true);
}

async function lyingPeers(r: Round): Promise<void> {
  await r.settle(await r.swarm(0, SWARM));
  const spec = { url: r.url, headers: {} };
  const lies = await Promise.all(Array.from({ length: r.liars }, (_, i) => lie(r.supernodeAddr, spec, `chaos-liar-${r.index}-${i}`, 20)));
  r.fault('lying peer', r.liars);
  r.note(`${r.liars} liars reported ${lies.reduce((a, b) => a + b, 0)} good peer pieces as corrupt`);
  const { peers, supernodeOffered } = await offeredSources(r.supernodeAddr, spec, SWARM);
  for (let host = 0; host < SWARM; host++) {
    const addr = await r.uploaderAddr(host);
    if (addr && !peers.has(addr) && supernodeOffered) {
      r.outcome.honestBlacklisted++;
      r.note(`honest seed h${host} (${addr}) never offered to a newcomer after the liars; the supernode was`);
    }
  }
  await r.settle([await r.dfget(SWARM)]);
}

async function corruptServer(r: Round): Promise<void> {
  const spec = { url: r.url, headers: {} };
  r.onClose(await serveCorrupt(r.supernodeAddr, spec, `chaos-corrupt-${r.index}`, FILE_BYTES / PIECE_BYTES, PIECE_BYTES));
  r.fault('peer serving corrupt bytes');
  await r.settle(await r.swarm(0, SWARM));
}

/** The round's file: version 0, or a changed version. */
export function contentFor(r: Round, version: number): Buffer {
  const bytes = Buffer.alloc(FILE_BYTES);
  let x = (r.index * 7919 + version * 104729 + 1) >>> 0;
  for (let i = 0; i < bytes.length; i += 4) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; bytes.writeUInt32LE(x >>> 0, i); }
  return bytes;
}

/** Fault kinds in rotation: name, body, and the flags the round's supernode gets beyond the defaults. */
export const LIVE_FAULTS: [string, LiveFault, string[]][] = [
  ['kill -9 dfget', killDfget, []], ['kill -9 uploader', killUploader, []], ['kill -9 supernode', killSupernode, []],
  ['bit rot in CDN', bitRotCdn, []], ['bit rot in seeds', bitRotSeed, []], ['source changes mid-fetch', sourceChanges, []],
  ['full disk', fullDisk, []], ['lying peers', lyingPeers, []], ['peer serving corrupt bytes', corruptServer, []],
  ['frozen uploaders', freezeUploaders, SLOW_FETCH_RESCUE],
];
