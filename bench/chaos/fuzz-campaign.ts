/**
 * Fuzzing every listening port of a live set-up on 127.0.0.1 — supernode control (/peer),
 * supernode data (/data), an uploader's data port (the one dfget left seeding) and dfdaemon's
 * HTTP port — with `inputs` generated inputs each, then checking that each process is still alive
 * and still serves a real download: a new dfget gets the file with the right hash and takes bytes
 * from the fuzzed uploader (the scheduler prefers a peer holder to the supernode), and dfdaemon
 * serves a registry blob with the right digest. Processes found dead count as crashes.
 */
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { taskIdFor } from '../../transport/task-id.ts';
import { controlUrl, dataUrl } from '../../transport/wire.ts';
import { HttpOrigin } from '../testbed/http-origin.ts';
import { removeDir, startBin, timeDfget, type RunningProcess } from '../testbed/processes.ts';
import { stopUploaderOf } from '../testbed/stop-uploader.ts';
import { readLock } from '../../transport/uploader/uploader-lock.ts';
import { controlFrames, dataFrames, httpRequests } from './fuzz-inputs.ts';
import { fuzzHttp, fuzzWebSocket, type FuzzTally } from './fuzz-drivers.ts';
import { killPids, waitGone } from '../testbed/proc-scan.ts';
import { pidAlive } from '../../transport/uploader/uploader-lock.ts';

export interface PortResult extends FuzzTally { port: string; crashed: boolean; servesAfter: boolean; note: string }
export interface FuzzOutcome { ports: PortResult[]; leaked: number }

interface Setup { dir: string; origin: HttpOrigin; registry: HttpOrigin; supernode: RunningProcess; dfdaemon: RunningProcess; url: string; blobPath: string; blob: Buffer }

const FILE = randomBytes(6 * 1024 * 1024 + 77);
const digestOf = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function setUp(dir: string): Promise<Setup> {
  const origin = await HttpOrigin.start();
  const registry = await HttpOrigin.start();
  await origin.put('/fuzz.bin', FILE);
  const blob = randomBytes(3 * 1024 * 1024);
  const blobPath = `/v2/fuzz/app/blobs/${digestOf(blob)}`;
  await registry.put(blobPath, blob);
  const supernode = await startBin('supernode', ['--home', join(dir, 'sn'), '--piece-size-bytes', '1MiB'], { portFlag: '--port', readyTimeoutMs: 45_000 });
  const dfdaemon = await startBin('dfdaemon', ['--registry', registry.baseUrl, '--node', supernode.addr, '--home', join(dir, 'dd')],
    { portFlag: '--port', readyTimeoutMs: 45_000 });
  return { dir, origin, registry, supernode, dfdaemon, url: origin.urlFor('/fuzz.bin'), blobPath, blob };
}

async function download(s: Setup, host: string): Promise<{ ok: boolean; fromPeers: number; note: string }> {
  try {
    const { result } = await timeDfget(s.url, join(s.dir, host), s.supernode.addr, ['--uploader-idle-exit', '2min', '--timeout', '60s']);
    return { ok: result.fileDigest === digestOf(FILE), fromPeers: result.fromPeersBytes, note: '' };
  } catch (err) {
    return { ok: false, fromPeers: 0, note: (err as Error).message.slice(0, 300) };
  }
}

async function blobServed(s: Setup): Promise<boolean> {
  try {
    const res = await fetch(`http://${s.dfdaemon.addr}${s.blobPath}`, { signal: AbortSignal.timeout(60_000) });
    return res.ok && digestOf(Buffer.from(await res.arrayBuffer())) === digestOf(s.blob);
  } catch {
    return false;
  }
}

export async function runFuzz(opts: { inputs: number; seed: number; workDir: string; log: (line: string) => void }): Promise<FuzzOutcome> {
  const dir = join(opts.workDir, 'fuzz');
  mkdirSync(dir, { recursive: true });
  const s = await setUp(dir);
  const ports: PortResult[] = [];
  let leaked = 0;
  try {
    const seeded = await download(s, 'seed');
    if (!seeded.ok) throw new Error(`the first download failed before any fuzzing: ${seeded.note}`);
    const lock = await readLock(join(dir, 'seed'));
    if (!lock) throw new Error('the seed left no uploader');
    const taskId = taskIdFor({ url: s.url });
    const { inputs, seed } = opts;
    const sn = s.supernode.addr;
    const targets: [string, () => Promise<FuzzTally>, () => boolean][] = [
      ['supernode control (/peer)', () => fuzzWebSocket((n) => controlUrl(sn, `fuzz-${n}`), controlFrames(inputs, seed, s.origin.baseUrl, taskId)), () => !s.supernode.exit],
      ['supernode data (/data)', () => fuzzWebSocket(() => dataUrl(sn), dataFrames(inputs, seed + 1, taskId)), () => !s.supernode.exit],
      ['uploader data (/data)', () => fuzzWebSocket(() => dataUrl(`127.0.0.1:${lock.port}`), dataFrames(inputs, seed + 2, taskId)), () => pidAlive(lock.pid)],
      ['dfdaemon HTTP', () => fuzzHttp(s.dfdaemon.port!, httpRequests(inputs, seed + 3, s.blobPath)), () => !s.dfdaemon.exit],
    ];
    for (const [port, fuzz, isAlive] of targets) {
      const tally = await fuzz();
      ports.push({ port, ...tally, crashed: !isAlive(), servesAfter: false, note: '' });
      opts.log(`fuzz ${port}: ${tally.inputs} inputs, ${tally.closes} closes, ${tally.answered} answers${isAlive() ? '' : ', PROCESS DIED'}`);
    }
    const after = await download(s, 'after');
    for (const p of ports.slice(0, 2)) { p.servesAfter = after.ok; p.note = after.note; }
    ports[2].servesAfter = after.ok && after.fromPeers > 0;
    ports[2].note = after.fromPeers > 0 ? '' : `the download after fuzzing took no bytes from the fuzzed uploader ${after.note}`;
    ports[3].servesAfter = await blobServed(s);
  } finally {
    await s.supernode.stop();
    await s.dfdaemon.stop();
    for (const home of ['seed', 'after', 'dd']) await stopUploaderOf(join(dir, home)).catch(() => undefined);
    const left = await waitGone(dir, 8000);
    leaked = left.length;
    killPids(left);
    await s.origin.close();
    await s.registry.close();
    removeDir(dir);
  }
  return { ports, leaked };
}
