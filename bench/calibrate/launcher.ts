/**
 * Starting the testbed's processes in the right network: on 127.0.0.1 (app shape), or inside a
 * node's namespace through `ip netns exec` (netns shape). Every process started here is tracked
 * and stopped by `stopAll`, and so are the background uploaders dfget leaves behind in the homes
 * handed to `trackHome` (in the netns shape the namespaces' teardown also kills anything left).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readLock } from '../../transport/uploader/uploader-lock.ts';
import { REPO_ROOT, RunningProcess } from '../testbed/processes.ts';
import { killPids, run } from './commands.ts';
import { runQueueWaitMsOf } from './counters.ts';
import type { NetnsTestbed } from './netns.ts';
import type { TestbedNode } from './plan.ts';

export class Launcher {
  private readonly procs: RunningProcess[] = [];
  private readonly homes: string[] = [];
  /** Per pid, its last CPU-seconds and run-queue-wait readings (a process that exited keeps them). */
  private readonly lastCpuSeconds = new Map<number, number>();
  private readonly lastWaits = new Map<number, number>();

  /** `testbed` null = app shape: every process on this machine's loopback. */
  constructor(private readonly testbed: NetnsTestbed | null) {}

  get shape(): 'netns' | 'app' { return this.testbed ? 'netns' : 'app'; }

  /** Start `node <args>` (a repo script or bin) as `node`'s process; stdin stays open as a pipe. */
  start(node: TestbedNode, label: string, args: string[]): RunningProcess {
    const argv = this.argv(node, [process.execPath, ...args]);
    const child = spawn(argv[0], argv.slice(1), { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'], env: process.env });
    const proc = new RunningProcess(label, child, null);
    this.procs.push(proc);
    return proc;
  }

  /** Start `bin/<name>.js` for `node`. */
  startBin(node: TestbedNode, name: string, args: string[]): RunningProcess {
    return this.start(node, `${name} ${node.name}`, [join(REPO_ROOT, 'bin', `${name}.js`), ...args]);
  }

  /** A dfget home whose background uploader must be stopped at the end. */
  trackHome(home: string): void { this.homes.push(home); }

  /**
   * GET `url` from inside `node`'s network (the testbed's addresses are reachable only there);
   * resolves with the body, rejects when the request fails or does not answer 200.
   */
  async httpGet(node: TestbedNode, url: string, timeoutMs = 5000): Promise<string> {
    if (!this.testbed) {
      const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
      const body = await res.text();
      if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
      return body;
    }
    const script = 'fetch(process.argv[1], { signal: AbortSignal.timeout(Number(process.argv[2])) })'
      + '.then(async (r) => { process.stdout.write(await r.text()); process.exit(r.ok ? 0 : 1); })'
      + '.catch((e) => { process.stderr.write(String(e.message)); process.exit(1); })';
    return run(this.argv(node, [process.execPath, '-e', script, url, String(timeoutMs)]), timeoutMs + 5000);
  }

  /** Stop every process started here and every tracked home's uploader, and wait until they are gone. */
  async stopAll(): Promise<void> {
    await Promise.all(this.procs.map((proc) => proc.stop('SIGTERM', 3000)));
    const pids: number[] = [];
    for (const home of this.homes) {
      const lock = await readLock(home).catch(() => null);
      if (lock && isUploaderOf(lock.pid, home)) pids.push(lock.pid);
    }
    await killPids(pids);
  }

  /**
   * CPU seconds (user + system) each kind of process has used so far, by the first word of its
   * label (origin, supernode, uploader, dfget), read from /proc; processes that exited are
   * counted up to their last reading. Take two readings and subtract for a run's share.
   */
  cpuSecondsByRole(): Record<string, number> {
    return this.secondsByRole(this.lastCpuSeconds, (pid) => {
      const ticks = cpuTicksOf(pid);
      return ticks === null ? null : ticks / CLOCK_TICKS_PER_SEC;
    });
  }

  /**
   * Seconds the main thread of each kind of process has waited for a CPU so far (runnable but not
   * running: /proc/<pid>/schedstat), by role as in cpuSecondsByRole.
   */
  runQueueWaitSecondsByRole(): Record<string, number> {
    return this.secondsByRole(this.lastWaits, (pid) => {
      const waitMs = runQueueWaitMsOf(`/proc/${pid}/schedstat`, (path) => readFileSync(path, 'utf8'));
      return waitMs === null ? null : waitMs / 1000;
    });
  }

  /** `read(pid)` summed by role (the label's first word); a process gone counts its last reading, kept in `last`. */
  private secondsByRole(last: Map<number, number>, read: (pid: number) => number | null): Record<string, number> {
    const out: Record<string, number> = {};
    for (const proc of this.procs) {
      const pid = proc.child.pid;
      if (pid === undefined) continue;
      const seconds = read(pid);
      if (seconds !== null) last.set(pid, seconds);
      const role = proc.name.split(' ')[0];
      out[role] = (out[role] ?? 0) + (last.get(pid) ?? 0);
    }
    return out;
  }

  /** Output of every process started here, for a run that failed. */
  describeAll(): string {
    return this.procs.map((proc) => proc.describe()).join('\n');
  }

  /** `argv` as run inside `node`'s network. */
  argv(node: TestbedNode, argv: string[]): string[] {
    return this.testbed ? this.testbed.wrap(node, argv) : argv;
  }
}

/** Linux's USER_HZ, the unit of /proc/<pid>/stat times: 100 on every mainstream architecture. */
const CLOCK_TICKS_PER_SEC = 100;

/** utime + stime of a live process, in clock ticks; null when it is gone. */
function cpuTicksOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start at the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return null;
  }
}

/** Whether `pid` is still the uploader serving `home` (a lock may outlive its process, and pids are reused). */
function isUploaderOf(pid: number, home: string): boolean {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    // dfget starts the uploader in the form it runs in itself: compiled (main.js) or under tsx (main.ts).
    return argv.some((arg) => arg.endsWith(join('uploader', 'main.js')) || arg.endsWith(join('uploader', 'main.ts'))) && argv.includes(home);
  } catch {
    return false;
  }
}
