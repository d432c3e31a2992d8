/**
 * Real processes for integration tests, benchmarks and the live demo: spawn a package bin on 127.0.0.1, wait until it answers
 * `/healthz`, stop it, and keep its output so a failing test can show why.
 *
 *   const procs = new ProcessGroup();
 *   try {
 *     const sn = await procs.start('supernode', ['--home', home], { portFlag: '--port' });
 *     ...
 *   } catch (err) { procs.printLogs(); throw err; } finally { await procs.stopAll(); }
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DownloadResult } from '../../transport/dfget/download.ts';
import { sleep } from '../../transport/real-timer.ts';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const OUTPUT_LIMIT_CHARS = 64 * 1024;

/** A port that was free a moment ago (the OS picks it; a tiny race remains, acceptable for tests). */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

/** A fresh temporary directory (e.g. a `--home`); remove it with `removeDir`. */
export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `sdf-${prefix}-`));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export interface StartOptions {
  /** Flag that sets the listening port (`--port`); omitted for processes that do not listen. */
  portFlag?: string;
  /** Known port to use instead of a fresh one (restart on the same address). */
  port?: number;
  /** HTTP path polled until it answers 200; null = do not wait. */
  healthPath?: string | null;
  /** How long to wait for health before giving up. */
  readyTimeoutMs?: number;
  env?: Record<string, string>;
  /** Flags for node itself, before the bin (e.g. `--import` of a test fixture). */
  nodeArgs?: string[];
  cwd?: string;
}

export interface Exit { code: number | null; signal: NodeJS.Signals | null }

export class RunningProcess {
  private stdoutText = '';
  private stderrText = '';
  private exitInfo: Exit | null = null;
  readonly exited: Promise<Exit>;

  constructor(readonly name: string, readonly child: ChildProcess, readonly port: number | null) {
    child.stdout?.setEncoding('utf8');
    child.stderr?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => { this.stdoutText = keepTail(this.stdoutText + chunk); });
    child.stderr?.on('data', (chunk: string) => { this.stderrText = keepTail(this.stderrText + chunk); });
    this.exited = new Promise((resolveExit) => {
      child.on('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        resolveExit(this.exitInfo);
      });
    });
  }

  /** `127.0.0.1:PORT` of the process, for `--node` lists and ws URLs. */
  get addr(): string {
    if (this.port === null) throw new Error(`${this.name} was started without a port`);
    return `127.0.0.1:${this.port}`;
  }
  get stdout(): string { return this.stdoutText; }
  get stderr(): string { return this.stderrText; }
  get exit(): Exit | null { return this.exitInfo; }

  /** Send a signal and wait for the exit; SIGKILL after `graceMs` if it is still alive. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 3000): Promise<Exit> {
    if (this.exitInfo) return this.exitInfo;
    this.child.kill(signal);
    const timer = setTimeout(() => { if (!this.exitInfo) this.child.kill('SIGKILL'); }, graceMs);
    const exit = await this.exited;
    clearTimeout(timer);
    return exit;
  }

  /** kill -9: no chance to clean up (crash tests). */
  kill9(): Promise<Exit> { return this.stop('SIGKILL'); }

  describe(): string {
    const exit = this.exitInfo ? ` (exited code=${this.exitInfo.code} signal=${this.exitInfo.signal})` : '';
    return `---- ${this.name}${exit} stderr ----\n${this.stderrText}\n---- ${this.name} stdout ----\n${this.stdoutText}`;
  }
}

function keepTail(text: string): string {
  return text.length > OUTPUT_LIMIT_CHARS ? text.slice(text.length - OUTPUT_LIMIT_CHARS) : text;
}

/** Spawn `bin/<name>.js` with the current node; resolves once healthy (or at once if no health path). */
export async function startBin(name: string, args: string[], opts: StartOptions = {}): Promise<RunningProcess> {
  const port = opts.portFlag ? (opts.port ?? await freePort()) : null;
  const fullArgs = [...(opts.nodeArgs ?? []), join(REPO_ROOT, 'bin', `${name}.js`), ...args];
  if (opts.portFlag && port !== null) fullArgs.push(opts.portFlag, String(port));
  const child = spawn(process.execPath, fullArgs, {
    cwd: opts.cwd ?? REPO_ROOT,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const proc = new RunningProcess(name, child, port);
  const healthPath = opts.healthPath === undefined ? (port !== null ? '/healthz' : null) : opts.healthPath;
  if (healthPath !== null && port !== null) {
    try {
      await waitHealthy(proc, `http://127.0.0.1:${port}${healthPath}`, opts.readyTimeoutMs ?? 15_000);
    } catch (err) {
      await proc.stop('SIGKILL');
      throw new Error(`${(err as Error).message}\n${proc.describe()}`);
    }
  }
  return proc;
}

async function waitHealthy(proc: RunningProcess, url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exit) throw new Error(`${proc.name} exited before answering ${url}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(50);
  }
  throw new Error(`${proc.name} did not answer ${url} within ${timeoutMs} ms`);
}

/** Processes of one test: stop them all at the end, print their output when the test failed. */
export class ProcessGroup {
  readonly procs: RunningProcess[] = [];

  async start(name: string, args: string[], opts: StartOptions = {}): Promise<RunningProcess> {
    const proc = await startBin(name, args, opts);
    this.procs.push(proc);
    return proc;
  }

  printLogs(): void {
    for (const proc of this.procs) console.error(proc.describe());
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.procs.map((proc) => proc.stop()));
  }
}

/**
 * Run node with `args` to its exit: resolves with the wall seconds from spawn to exit and the
 * stdout, rejects with the tail of the stderr when it exits non-zero.
 */
export function timeProcess(args: string[]): Promise<{ seconds: number; stdout: string }> {
  const startMs = performance.now();
  const child = spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
  child.stderr.on('data', (chunk: Buffer) => { stderr = keepTail(stderr + chunk.toString()); });
  return new Promise((resolve, reject) => {
    child.on('exit', (code) => {
      if (code === 0) resolve({ seconds: (performance.now() - startMs) / 1000, stdout });
      else reject(new Error(`${args.slice(0, 2).join(' ')} exited ${code}: ${stderr.slice(-2000)}`));
    });
  });
}

/** One `dfget --json --quiet` of `url` into `<home>/out.bin`, timed from spawn to exit. */
export async function timeDfget(url: string, home: string, supernode: string, extraArgs: string[]): Promise<{ seconds: number; result: DownloadResult }> {
  const { seconds, stdout } = await timeProcess([join(REPO_ROOT, 'bin', 'dfget.js'), '--url', url, '--output', join(home, 'out.bin'),
    '--home', home, '--node', supernode, '--json', '--quiet', ...extraArgs]);
  return { seconds, result: JSON.parse(stdout) as DownloadResult };
}

/**
 * Run a test body with a process group; on failure print every process's output before
 * rethrowing, and always stop them.
 */
export async function withProcesses<T>(body: (procs: ProcessGroup) => Promise<T>): Promise<T> {
  const procs = new ProcessGroup();
  try {
    return await body(procs);
  } catch (err) {
    procs.printLogs();
    throw err;
  } finally {
    await procs.stopAll();
  }
}

/** Poll `predicate` every 50 ms until it holds; throws after `timeoutMs` with `what`. */
export async function waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}
