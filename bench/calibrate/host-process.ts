/**
 * One testbed host: its dfget (and, warm, its uploader), started the way `--start` says.
 *
 *   cold  dfget is spawned at the host's arrival and starts its background uploader itself:
 *         what a user sees, node start-up of both processes (compiled JavaScript) included.
 *   warm  before t = 0 the host's uploader runs and dfget is loaded and waiting (dfget-armed.ts);
 *         at its arrival it is told to go. This is the simulator's model (a host downloads from
 *         its arrival, its uploader ready) and keeps start-up CPU, which on one shared machine
 *         all hosts pay on the same two cores, out of the comparison.
 *
 * Completion is measured from the spawn (cold) or the "go" (warm) to the process's exit.
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { DownloadResult } from '../../transport/dfget/download.ts';
import { readLock } from '../../transport/uploader/uploader-lock.ts';
import { REPO_ROOT, type RunningProcess } from '../testbed/processes.ts';
import { sleepMs } from './commands.ts';
import { CPU_LINE_PREFIX } from './counters.ts';
import type { Launcher } from './launcher.ts';
import type { TestbedNode } from './plan.ts';

export type StartMode = 'cold' | 'warm';

export interface HostOutcome {
  /** Start (spawn or go) to exit, ms; null when dfget failed. */
  completionMs: number | null;
  /** CPU ms the download used (warm start only: the loaded process reports it). */
  cpuMs: number | null;
  /** How long its main thread waited for a CPU during the download (warm start; null otherwise). */
  waitMs: number | null;
  result: DownloadResult | null;
  error: string | null;
}

const ARMED_TIMEOUT_MS = 120_000;
const IDLE_EXIT = '1h';

export class HostProcess {
  private proc: RunningProcess | null = null;

  constructor(private readonly launcher: Launcher, private readonly node: TestbedNode, private readonly home: string,
    private readonly dfgetArgs: string[], private readonly mode: StartMode) {
    launcher.trackHome(home);
  }

  /** Warm: start the uploader and load dfget, and wait until both are ready. Cold: nothing. */
  async arm(): Promise<void> {
    if (this.mode === 'cold') return;
    const uploader = this.launcher.start(this.node, `uploader ${this.node.name}`, [
      join(REPO_ROOT, 'dist', 'transport', 'uploader', 'main.js'), '--home', this.home, ...this.uploaderAddressArgs(),
      // Its upload slots come from the supernode's settings, through dfget (as for the uploader dfget starts itself).
      '--port', '0', '--totallimit', String(this.node.upBytesPerSec), '--idle-exit', IDLE_EXIT,
      // A line per served piece with where its serving time went, for the report's fetch split (upload-split.ts).
      '--log-level', 'debug',
    ]);
    this.proc = this.launcher.start(this.node, `dfget ${this.node.name}`, ['--import', 'tsx', join(import.meta.dirname, 'dfget-armed.ts'), ...this.dfgetArgs]);
    await Promise.all([this.waitForLock(uploader), this.waitForLine(this.proc, 'armed')]);
  }

  /** Start the download now and resolve when dfget exits. */
  async run(): Promise<HostOutcome> {
    const startedMs = performance.now();
    if (this.mode === 'warm') this.proc!.child.stdin!.write('go\n');
    else this.proc = this.launcher.startBin(this.node, 'dfget', this.dfgetArgs);
    const proc = this.proc!;
    const exit = await proc.exited;
    const completionMs = performance.now() - startedMs;
    if (exit.code !== 0) {
      return { completionMs: null, cpuMs: null, waitMs: null, result: null, error: `dfget exited ${exit.code ?? exit.signal}: ${proc.stderr.trim().split('\n').slice(-3).join(' | ')}` };
    }
    const cpuLine = proc.stderr.split('\n').find((line) => line.startsWith(CPU_LINE_PREFIX));
    const reported = cpuLine ? JSON.parse(cpuLine.slice(CPU_LINE_PREFIX.length)) as { cpuMs: number; waitMs: number | null } : null;
    const cpuMs = reported?.cpuMs ?? null;
    const waitMs = reported?.waitMs ?? null;
    try {
      return { completionMs, cpuMs, waitMs, result: JSON.parse(proc.stdout.trim().split('\n').pop() ?? '') as DownloadResult, error: null };
    } catch {
      return { completionMs: null, cpuMs, waitMs, result: null, error: `dfget printed no JSON result: ${proc.stdout.slice(-300)}` };
    }
  }

  /** In the netns shape peers dial the host's own address; its dfget reaches the control channel on 127.0.0.1. */
  private uploaderAddressArgs(): string[] {
    return this.launcher.shape === 'app' ? ['--host', '127.0.0.1'] : ['--host', '0.0.0.0', '--advertise-host', this.node.address];
  }

  /** The uploader writes its lock once it listens (its port in it). */
  private async waitForLock(uploader: RunningProcess): Promise<void> {
    const deadline = Date.now() + ARMED_TIMEOUT_MS;
    while (Date.now() < deadline) {
      const lock = await readLock(this.home).catch(() => null);
      if (lock && lock.pid === uploader.child.pid && lock.port > 0) return;
      if (uploader.exit) throw new Error(`the uploader of ${this.node.name} exited before serving\n${uploader.describe()}`);
      await sleepMs(100);
    }
    throw new Error(`the uploader of ${this.node.name} did not start within ${ARMED_TIMEOUT_MS / 1000} s\n${uploader.describe()}`);
  }

  private async waitForLine(proc: RunningProcess, line: string): Promise<void> {
    const deadline = Date.now() + ARMED_TIMEOUT_MS;
    while (!proc.stdout.split('\n').includes(line)) {
      if (proc.exit) throw new Error(`${proc.name} exited before "${line}"\n${proc.describe()}`);
      if (Date.now() > deadline) throw new Error(`${proc.name} did not print "${line}" within ${ARMED_TIMEOUT_MS / 1000} s\n${proc.describe()}`);
      await sleepMs(100);
    }
  }
}
