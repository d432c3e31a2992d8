/**
 * What the netns testbed's links actually deliver, measured before the run with plain TCP from
 * inside the namespaces: the goodput of one flow over a shaped link (payload bytes per second,
 * after TCP/IP and Ethernet headers and TCP's ramp-up), and round-trip times within and across
 * IDCs. The simulator's capacities are the scenario's rates; this says how much of them a real
 * flow gets on this machine, so a gap can be split into "the link" and "the system".
 */
import { run } from './commands.ts';
import type { Launcher } from './launcher.ts';
import type { TestbedNode, TestbedPlan } from './plan.ts';

export interface GoodputProbe { from: string; to: string; nominalBytesPerSec: number; goodputBytesPerSec: number; bytes: number }
export interface RttProbe { from: string; to: string; medianMs: number; expectedMs: number }
export interface LinkCheck { goodput: GoodputProbe[]; rtt: RttProbe[] }

const PROBE_PORT = 7911;
/** Seconds of transfer per goodput probe at the link's nominal rate (long enough to pass TCP's ramp-up). */
const PROBE_SECONDS = 2;

/** Receiver: counts bytes from the first to the last, prints {bytes, ms}. */
const SINK = `const net = require('net');
const server = net.createServer((s) => { let n = 0, t0 = 0; s.on('data', (d) => { if (!t0) t0 = performance.now(); n += d.length; });
  s.on('end', () => { console.log(JSON.stringify({ bytes: n, ms: performance.now() - t0 })); server.close(); }); });
server.listen(Number(process.argv[2]), process.argv[1], () => console.log('ready'));`;
const SOURCE = `const net = require('net'); let left = Number(process.argv[3]);
const s = net.connect(Number(process.argv[2]), process.argv[1], () => { const chunk = Buffer.alloc(1 << 20);
  const pump = () => { while (left > 0) { const n = Math.min(left, chunk.length); left -= n; if (!s.write(chunk.subarray(0, n))) return s.once('drain', pump); } s.end(); }; pump(); });`;
const ECHO = `const net = require('net'); const server = net.createServer((s) => s.pipe(s));
server.listen(Number(process.argv[2]), process.argv[1], () => console.log('ready')); setTimeout(() => server.close(), 20000).unref();`;
const PING = `const net = require('net'); const s = net.connect(Number(process.argv[2]), process.argv[1], async () => { s.setNoDelay(true);
  const times = []; for (let i = 0; i < 11; i++) { const t = performance.now(); await new Promise((r) => { s.once('data', r); s.write('x'); }); times.push(performance.now() - t); }
  times.sort((a, b) => a - b); console.log(JSON.stringify({ medianMs: times[5] })); s.destroy(); process.exit(0); });`;

export async function checkLinks(plan: TestbedPlan, launcher: Launcher): Promise<LinkCheck> {
  const sn = plan.supernodes[0];
  const [h0, h1] = plan.hosts;
  const goodput: GoodputProbe[] = [await probeGoodput(launcher, plan.origin, sn)];
  if (h1) goodput.push(await probeGoodput(launcher, h0, h1));
  const { sameIdcMs, crossIdcMs } = plan.scenario.topology;
  const rtt: RttProbe[] = [await probeRtt(launcher, h0, sn, h0.idc === sn.idc ? sameIdcMs : crossIdcMs)];
  const far = plan.hosts.find((h) => h.idc !== h0.idc);
  if (far) rtt.push(await probeRtt(launcher, h0, far, crossIdcMs));
  const near = plan.hosts.find((h) => h !== h0 && h.idc === h0.idc);
  if (near) rtt.push(await probeRtt(launcher, h0, near, sameIdcMs));
  return { goodput, rtt };
}

async function probeGoodput(launcher: Launcher, from: TestbedNode, to: TestbedNode): Promise<GoodputProbe> {
  const nominal = Math.min(from.upBytesPerSec, to.downBytesPerSec);
  const bytes = Math.round(nominal * PROBE_SECONDS);
  const sink = launcher.start(to, `probe ${to.name}`, ['-e', SINK, to.address, String(PROBE_PORT)]);
  await waitReady(sink);
  await run(launcher.argv(from, [process.execPath, '-e', SOURCE, to.address, String(PROBE_PORT), String(bytes)]), 60_000);
  await sink.exited;
  const result = JSON.parse(sink.stdout.trim().split('\n').pop() ?? '{}') as { bytes: number; ms: number };
  return { from: from.name, to: to.name, nominalBytesPerSec: nominal, goodputBytesPerSec: result.bytes / (result.ms / 1000), bytes: result.bytes };
}

async function probeRtt(launcher: Launcher, from: TestbedNode, to: TestbedNode, oneWayMs: number): Promise<RttProbe> {
  const echo = launcher.start(to, `probe ${to.name}`, ['-e', ECHO, to.address, String(PROBE_PORT + 1)]);
  await waitReady(echo);
  const out = await run(launcher.argv(from, [process.execPath, '-e', PING, to.address, String(PROBE_PORT + 1)]), 30_000);
  await echo.stop();
  return { from: from.name, to: to.name, medianMs: (JSON.parse(out) as { medianMs: number }).medianMs, expectedMs: 2 * oneWayMs };
}

async function waitReady(proc: ReturnType<Launcher['start']>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!proc.stdout.includes('ready')) {
    if (proc.exit || Date.now() > deadline) throw new Error(`link probe did not start\n${proc.describe()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
