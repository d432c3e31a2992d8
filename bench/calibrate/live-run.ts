/**
 * One live run of a testbed plan: the origin serves a random file of the scenario's size, the
 * supernodes start with the scenario's core settings as flags (they hand them to their peers),
 * and each host's dfget starts at the host's arrival time. Every figure comes from the processes
 * themselves: completion and dfget's byte counts from its `--json` result, supernode egress from
 * its /metrics, origin egress from the origin's byte counter. Each output's SHA-256 is checked
 * against the file's once every host is done (hashing earlier would steal CPU from the run).
 *
 * Shaping: in the netns shape the links are shaped by tc and the processes run unlimited (each
 * dfget still declares its upload rate with --upload-limit, as a simulated host does); in the app
 * shape each process's own token buckets carry the scenario's rates.
 */
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { performance } from 'node:perf_hooks';
import { flagOf } from '../../sim/overrides.ts';
import { freePort, type RunningProcess } from '../testbed/processes.ts';
import { writeRandomFile } from '../testbed/random-file.ts';
import { sleepMs } from './commands.ts';
import { CpuSampler, type CpuSummary } from './cpu-sampler.ts';
import { fileDigestOf, runDirect, type DirectResult } from './direct-run.ts';
import { HostProcess, type StartMode } from './host-process.ts';
import type { Launcher } from './launcher.ts';
import { countersByRole, type NodeTcpCounters, type RoleTcpCounters } from './tcp-counters.ts';
import type { TestbedNode, TestbedPlan } from './plan.ts';
import { parseMetrics, type OriginCounters, type SupernodeCounters } from './counters.ts';

export interface LiveHost {
  host: number;
  /** When dfget was started (spawned, or told to go), ms after t = 0: its arrival plus timer lateness. */
  startedMs: number;
  /** The same instant as a wall-clock time (the processes' logs carry those). */
  startedEpochMs: number;
  /** Start to exit: what the simulator's arrival-to-done is compared with; null if it failed. */
  completionMs: number | null;
  /** dfget's own elapsed time, from its download start: completionMs minus this is start-up and exit. */
  dfgetElapsedMs: number | null;
  fromPeersBytes: number;
  fromSupernodeBytes: number;
  fromSourceBytes: number;
  digestOk: boolean;
  error: string | null;
}

export interface LiveResult {
  hosts: LiveHost[];
  fileDigest: string;
  origin: OriginCounters;
  supernode: SupernodeCounters;
  /** t = 0 as a wall-clock time, and from there to the last dfget's exit. */
  t0EpochMs: number;
  wallMs: number;
  cpu: CpuSummary;
  /** CPU seconds the testbed's processes used between t = 0 and the end, by kind (dfget: warm start only). */
  processCpuSeconds: Record<string, number>;
  /** Seconds the main threads of the testbed's processes waited for a CPU between t = 0 and the end, by kind (dfget: warm start only). */
  processWaitSeconds: Record<string, number>;
  /** Every host pulling straight from the origin on the same links, after the swarm (--direct); else null. */
  direct: DirectResult | null;
  /** TCP and queue counters per role between t = 0 and the last host (netns shape); else null. */
  tcp: RoleTcpCounters[] | null;
}

export interface LiveOptions {
  launcher: Launcher;
  workDir: string;
  /** Give up on hosts still running this long after t = 0. */
  timeoutMs: number;
  /** The simulator's last completion, for progress lines. */
  expectedMs: number;
  start: StartMode;
  log: (message: string) => void;
  signal: AbortSignal;
  /** Also run the direct-pull baseline (direct-run.ts) after the swarm. */
  direct: boolean;
  /** Reads the testbed's TCP counters per node (netns shape), or null. */
  tcpCounters: (() => Promise<NodeTcpCounters>) | null;
  /** Processes to keep spinning from before t = 0 until the last host is done (--busy-cores). */
  busyCores: number;
}

const SUPERNODE_PORT = 8002;
const READY_TIMEOUT_MS = 30_000;
const PROGRESS_EVERY_MS = 5000;
/** Pause between arming the hosts and t = 0, so their start-up CPU has settled. */
const SETTLE_MS = 2000;
/** The role of --busy-cores processes: left out of the testbed's CPU figures. */
const BUSY_ROLE = 'busy';

export async function runLive(plan: TestbedPlan, opts: LiveOptions): Promise<LiveResult> {
  const { launcher, workDir, log } = opts;
  const filePath = join(workDir, 'source.bin');
  log(`writing a ${plan.scenario.fileSizeBytes}-byte random file for the origin`);
  const fileDigest = await writeRandomFile(filePath, plan.scenario.fileSizeBytes);
  const servers = await startServers(plan, opts, filePath);
  const hostProcs = plan.hosts.map((host) => new HostProcess(launcher, host, join(workDir, host.name),
    dfgetArgs(plan, host, servers.url, servers.supernodeAddrs, join(workDir, host.name), launcher.shape === 'app', opts.timeoutMs), opts.start));
  if (opts.start === 'warm') {
    log(`starting ${plan.hosts.length} uploaders and loading ${plan.hosts.length} dfgets before t = 0 (--start warm)`);
    await abortable(Promise.all(hostProcs.map((h) => h.arm())), opts.signal);
  }
  const spinners = startSpinners(plan, opts, workDir);
  const tcpBefore = await readTcpCounters(opts);
  if (opts.start === 'warm') await sleepMs(SETTLE_MS);
  const run = await runHosts(plan, opts, hostProcs);
  await Promise.all(spinners.map((spinner) => spinner.stop('SIGTERM', 3000)));
  const tcpAfter = tcpBefore ? await readTcpCounters(opts) : null;

  const origin = await originStats(servers);
  const supernode = await supernodeCounters(launcher, plan.supernodes, servers.supernodeAddrs);
  log('checking the SHA-256 of every output');
  for (const [i, host] of plan.hosts.entries()) {
    const result = run.hosts[i];
    if (result.completionMs === null) continue;
    result.digestOk = await fileDigestOf(join(workDir, host.name, 'out.bin')) === fileDigest;
    if (!result.digestOk) result.error = 'the output differs from the origin\'s file';
  }
  const direct = opts.direct ? await runDirect(plan, {
    launcher, workDir, url: servers.url, fileDigest, timeoutMs: opts.timeoutMs, log,
    originBytesSent: async () => (await originStats(servers)).bytesSent,
  }) : null;
  return { ...run, fileDigest, origin, supernode, direct, tcp: tcpBefore && tcpAfter ? countersByRole(tcpBefore, tcpAfter) : null };
}

/**
 * `--busy-cores`: processes that spin at normal priority, each taking a CPU from the testbed, to
 * show whether the run's time depends on CPU. Their command line names the work dir (a later run
 * stops those of a killed one, as it does its other processes), and each exits on its own when
 * its parent is gone. They are not counted as the testbed's CPU (role `busy`).
 */
function startSpinners(plan: TestbedPlan, opts: LiveOptions, workDir: string): RunningProcess[] {
  if (opts.busyCores <= 0) return [];
  opts.log(`keeping ${opts.busyCores} CPU(s) busy until the last host is done (--busy-cores)`);
  const script = 'const parent = process.ppid; for (;;) { const end = Date.now() + 50; while (Date.now() < end); if (process.ppid !== parent) process.exit(0); }';
  return Array.from({ length: opts.busyCores }, (_, i) => opts.launcher.start(plan.origin, `${BUSY_ROLE} ${i}`, ['-e', script, join(workDir, `busy-${i}`)]));
}

/** The testbed's TCP counters (tcp-counters.ts), or null without them or when they cannot be read: they inform, the run goes on. */
async function readTcpCounters(opts: LiveOptions): Promise<NodeTcpCounters | null> {
  if (!opts.tcpCounters) return null;
  try {
    return await opts.tcpCounters();
  } catch (err) {
    opts.log(`cannot read the testbed's TCP counters, the report goes without them: ${(err as Error).message}`);
    return null;
  }
}

async function originStats(servers: Servers): Promise<OriginCounters> {
  servers.origin.child.stdin!.write('stats\n');
  return JSON.parse(await servers.originLines.next(5000, 'the origin\'s counters')) as OriginCounters;
}

interface Servers { origin: RunningProcess; originLines: LineQueue; url: string; supernodeAddrs: string[] }

/** The origin serving `filePath`, and every supernode answering its health check. */
async function startServers(plan: TestbedPlan, opts: LiveOptions, filePath: string): Promise<Servers> {
  const { launcher, workDir } = opts;
  const app = launcher.shape === 'app';
  const origin = launcher.start(plan.origin, 'origin', ['--import', 'tsx', join(import.meta.dirname, 'origin-process.ts'),
    '--file', filePath, '--host', plan.origin.address, '--rate', String(app ? plan.origin.upBytesPerSec : 0)]);
  const originLines = lineQueue(origin);
  const url = (JSON.parse(await originLines.next(READY_TIMEOUT_MS, 'the origin to serve')) as { url: string }).url;
  const supernodeAddrs: string[] = [];
  for (const sn of plan.supernodes) {
    const port = app ? await freePort() : SUPERNODE_PORT;
    launcher.startBin(sn, 'supernode', supernodeArgs(plan, sn, join(workDir, sn.name), port, app));
    supernodeAddrs.push(`${sn.address}:${port}`);
  }
  for (const [i, sn] of plan.supernodes.entries()) await waitHealthy(launcher, sn, `http://${supernodeAddrs[i]}/healthz`, opts.signal);
  return { origin, originLines, url, supernodeAddrs };
}

type HostsRun = Pick<LiveResult, 'hosts' | 't0EpochMs' | 'wallMs' | 'cpu' | 'processCpuSeconds' | 'processWaitSeconds'>;

/** t = 0: start every host at its arrival time and wait for all of them (or the deadline, or an abort). */
async function runHosts(plan: TestbedPlan, opts: LiveOptions, hostProcs: HostProcess[]): Promise<HostsRun> {
  const { launcher, log } = opts;
  const sampler = new CpuSampler(() => Object.entries(launcher.cpuSecondsByRole()).reduce((sum, [role, s]) => (role === BUSY_ROLE ? sum : sum + s), 0));
  const cpuAtStart = launcher.cpuSecondsByRole();
  const waitAtStart = launcher.runQueueWaitSecondsByRole();
  let dfgetCpuMs = 0;
  let dfgetWaitMs = 0;
  const t0 = performance.now();
  const t0EpochMs = Date.now();
  const elapsed = (): number => performance.now() - t0;
  const hosts: LiveHost[] = plan.hosts.map((h) => ({
    host: h.index, startedMs: NaN, startedEpochMs: NaN, completionMs: null, dfgetElapsedMs: null,
    fromPeersBytes: 0, fromSupernodeBytes: 0, fromSourceBytes: 0, digestOk: false, error: null,
  }));
  let done = 0;
  const report = (): void => log(`${done}/${plan.hosts.length} hosts done, ${(elapsed() / 1000).toFixed(1)} s `
    + `(the simulator's last host: ${(opts.expectedMs / 1000).toFixed(1)} s)`);
  log(`t = 0: ${plan.hosts.length} hosts start at their arrival times`);
  const ticker = setInterval(report, PROGRESS_EVERY_MS);
  const runs = plan.hosts.map(async (host): Promise<void> => {
    await sleepMs(Math.max(0, host.arrivalMs - elapsed()));
    if (opts.signal.aborted) return;
    const result = hosts[host.index];
    result.startedMs = elapsed();
    result.startedEpochMs = Date.now();
    const outcome = await hostProcs[host.index].run();
    dfgetCpuMs += outcome.cpuMs ?? 0;
    dfgetWaitMs += outcome.waitMs ?? 0;
    if (outcome.result) {
      Object.assign(result, {
        completionMs: outcome.completionMs, dfgetElapsedMs: outcome.result.elapsedMs, fromPeersBytes: outcome.result.fromPeersBytes,
        fromSupernodeBytes: outcome.result.fromSupernodeBytes, fromSourceBytes: outcome.result.fromSourceBytes,
      });
    } else {
      result.error = outcome.error;
      log(`host ${host.name} failed: ${result.error}`);
    }
    done++;
    report();
  });
  let deadlineTimer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'timeout'>((resolve) => { deadlineTimer = setTimeout(() => resolve('timeout'), opts.timeoutMs); });
  const aborted = new Promise<'aborted'>((resolve) => opts.signal.addEventListener('abort', () => resolve('aborted'), { once: true }));
  const outcome = await Promise.race([Promise.all(runs).then(() => 'done' as const), deadline, aborted]);
  clearTimeout(deadlineTimer);
  clearInterval(ticker);
  const wallMs = elapsed();
  const cpu = sampler.stop();
  const processCpuSeconds = sinceByRole(cpuAtStart, launcher.cpuSecondsByRole());
  const processWaitSeconds = sinceByRole(waitAtStart, launcher.runQueueWaitSecondsByRole());
  delete processCpuSeconds[BUSY_ROLE];
  delete processWaitSeconds[BUSY_ROLE];
  // A warm dfget reports its download's CPU and waits itself; a cold one's CPU is read from /proc
  // while it runs (start-up included, the last moments before its exit missed), its waits not at all.
  if (opts.start === 'warm') {
    processCpuSeconds.dfget = dfgetCpuMs / 1000;
    processWaitSeconds.dfget = dfgetWaitMs / 1000;
  } else {
    delete processWaitSeconds.dfget;
  }
  if (outcome !== 'done') {
    throw new Error(outcome === 'aborted' ? 'interrupted' : `${plan.hosts.length - done} host(s) still running after `
      + `${(opts.timeoutMs / 1000).toFixed(0)} s (the simulator's last host took ${(opts.expectedMs / 1000).toFixed(1)} s); raise --timeout`);
  }
  return { hosts, t0EpochMs, wallMs, cpu, processCpuSeconds, processWaitSeconds };
}

function supernodeArgs(plan: TestbedPlan, sn: TestbedNode, home: string, port: number, app: boolean): string[] {
  const args = ['--home', home, '--host', sn.address, '--port', String(port), '--seed', plan.scenario.seed];
  const cdnConcurrency = plan.scenario.core.sourceFetchConcurrency;
  if (cdnConcurrency !== undefined) args.push('--cdn-concurrency', String(cdnConcurrency));
  for (const [setting, value] of Object.entries(plan.scenario.core)) {
    if (typeof value === 'number') args.push(`--${flagOf(setting)}`, String(value));
  }
  if (app) args.push('--limit-out', String(sn.upBytesPerSec), '--limit-in', String(sn.downBytesPerSec));
  // The supernode's link rate, as the simulated supernode knows it (how many uploads it runs at once).
  args.push('--upload-rate', String(sn.upBytesPerSec));
  return args;
}

function dfgetArgs(plan: TestbedPlan, host: TestbedNode, url: string, supernodes: string[], home: string, app: boolean, timeoutMs: number): string[] {
  return [
    '--url', url, '--output', join(home, 'out.bin'), '--home', home, '--node', supernodes.join(','),
    '--json', '--quiet', '--timeout', String(timeoutMs), '--uploader-idle-exit', '1h', '--upload-host', host.address,
    // Declared upload rate (upload slots, source choice), as the simulator's host declares it.
    '--upload-limit', String(host.upBytesPerSec),
    // Where the host sits, as the simulated host declares it (the scheduler prefers near sources).
    ...(host.placement.idc ? ['--idc', host.placement.idc] : []),
    ...(host.placement.location ? ['--location', host.placement.location] : []),
    '--locallimit', String(app ? host.downBytesPerSec : 0),
    ...(plan.scenario.core.backToSource === false ? ['--no-back-source'] : []),
  ];
}

/** `after` minus `before`, role by role (CPU seconds, run-queue waits). */
function sinceByRole(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [role, seconds] of Object.entries(after)) out[role] = seconds - (before[role] ?? 0);
  return out;
}

/** `work`, or a rejection as soon as `signal` aborts (Ctrl-C while the testbed starts). */
function abortable<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => reject(new Error('interrupted'));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

async function waitHealthy(launcher: Launcher, node: TestbedNode, url: string, signal: AbortSignal): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last = '';
  while (Date.now() < deadline && !signal.aborted) {
    try {
      await launcher.httpGet(node, url, 1000);
      return;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleepMs(200);
  }
  throw new Error(`${node.name} did not answer ${url} within ${READY_TIMEOUT_MS / 1000} s (${last})`);
}

async function supernodeCounters(launcher: Launcher, nodes: TestbedNode[], addrs: string[]): Promise<SupernodeCounters> {
  const total: SupernodeCounters = { servedBytes: 0, sourceBytes: 0, piecesFromSupernode: 0, piecesFromPeers: 0 };
  for (const [i, node] of nodes.entries()) {
    const one = parseMetrics(await launcher.httpGet(node, `http://${addrs[i]}/metrics`));
    for (const key of Object.keys(total) as (keyof SupernodeCounters)[]) total[key] += one[key];
  }
  return total;
}

interface LineQueue { next(timeoutMs: number, what: string): Promise<string> }

/** Lines of a process's stdout, taken one at a time with a timeout. */
function lineQueue(proc: RunningProcess): LineQueue {
  const lines: string[] = [];
  const waiters: ((line: string) => void)[] = [];
  createInterface({ input: proc.child.stdout! }).on('line', (line) => {
    const waiter = waiters.shift();
    if (waiter) waiter(line); else lines.push(line);
  });
  return {
    next: (timeoutMs, what) => {
      const line = lines.shift();
      if (line !== undefined) return Promise.resolve(line);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}\n${proc.describe()}`)), timeoutMs);
        waiters.push((l) => { clearTimeout(timer); resolve(l); });
        void proc.exited.then(() => { clearTimeout(timer); reject(new Error(`${proc.name} exited while waiting for ${what}\n${proc.describe()}`)); });
      });
    },
  };
}
