/**
 * CPU time of benchmarked processes, user + system, in seconds: what a run cost the machine, which
 * on a shared 2-core host says more than its wall time.
 *
 * A command we wait for is run under `sh`, whose `times` builtin reports the CPU of the children
 * it waited for (the command and whatever it waited for itself; a detached child such as dfget's
 * background uploader is not included). A long-lived process (the supernode, an uploader) is read
 * from /proc/<pid>/stat before and after the part being measured (Linux).
 */
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface TimedRun {
  wallSeconds: number;
  /** User + system CPU of the command and the children it waited for. */
  cpuSeconds: number;
  stdout: string;
  stderr: string;
}

const OUTPUT_LIMIT_CHARS = 64 * 1024;

/**
 * Run `command args...` to its exit; rejects with the tail of its stderr when it exits non-zero.
 * `onStderr` sees its stderr as it comes (a progress bar, say).
 */
export function runTimed(command: string, args: string[], opts: { cwd?: string; onStderr?: (text: string) => void } = {}): Promise<TimedRun> {
  const startMs = performance.now();
  const child = spawn('sh', ['-c', '"$0" "$@"; status=$?; times >&3; exit $status', command, ...args], {
    cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let times = '';
  child.stdout!.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
  child.stderr!.on('data', (chunk: Buffer) => {
    const text = chunk.toString();
    stderr = (stderr + text).slice(-OUTPUT_LIMIT_CHARS);
    opts.onStderr?.(text);
  });
  (child.stdio[3] as NodeJS.ReadableStream).on('data', (chunk: Buffer) => { times += chunk.toString(); });
  return new Promise((resolve, reject) => {
    child.on('close', (code) => {
      const wallSeconds = (performance.now() - startMs) / 1000;
      if (code !== 0) {
        reject(new Error(`${command} ${args.slice(0, 2).join(' ')} exited ${code}: ${stderr.slice(-2000)}`));
        return;
      }
      resolve({ wallSeconds, cpuSeconds: childrenCpuSeconds(times), stdout, stderr });
    });
  });
}

/** The second line of `times`: user and system time of the shell's waited-for children. */
export function childrenCpuSeconds(timesOutput: string): number {
  const values = [...timesOutput.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
  if (values.length < 4) throw new Error(`cannot read CPU times from ${JSON.stringify(timesOutput)}`);
  return values[2] + values[3];
}

let clockTicksPerSecond: number | null = null;

/** User + system CPU seconds the process has used so far; null when it is gone (or not Linux). */
export function processCpuSeconds(pid: number): number | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // Fields after the command name (which may hold spaces) start at state, field 3; utime and stime are 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  clockTicksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  return (Number(fields[11]) + Number(fields[12])) / clockTicksPerSecond;
}

/** Whether `command` can be run here (e.g. curl for the baseline). */
export function haveCommand(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
