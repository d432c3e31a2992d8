/**
 * One live chaos round on 127.0.0.1: its own dir (homes of a supernode and up to 9 dfget hosts),
 * its supernode (restartable on the same --home and port), the dfgets it starts, and the outcome
 * checks every round is held to:
 *
 * - every output at an --output path hashes to a version the source served (else: corrupt);
 * - a download expected to succeed exited 0 with its output (else: failed, with its exit code);
 * - after teardown (SIGTERM to the supernode and every home's uploader), no process whose command
 *   line mentions the round's dir is alive 8 s later (else: leaked; then killed by pid).
 *
 * Once `close` has begun the round refuses to start processes, so a fault body still running
 * after its deadline cannot leak into the next round.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Rng } from '../../core/rng.ts';
import { readLock } from '../../transport/uploader/uploader-lock.ts';
import { sleep } from '../../transport/real-timer.ts';
import type { HttpOrigin } from '../testbed/http-origin.ts';
import { freePort, removeDir, startBin, type RunningProcess } from '../testbed/processes.ts';
import { stopUploaderOf } from '../testbed/stop-uploader.ts';
import { killPids, waitGone } from '../testbed/proc-scan.ts';
import { unmount } from './tmpfs.ts';

export const FILE_BYTES = 8 * 1024 * 1024;
export const PIECE_BYTES = 1024 * 1024;
const LEAK_GRACE_MS = 8000;

export interface RoundOutcome {
  downloads: number;
  corruptOutputs: number;
  failedDownloads: number;
  /** Downloads allowed to fail (full disk, changed source) that failed cleanly. */
  cleanFailures: number;
  honestBlacklisted: number;
  leaked: number;
  hung: boolean;
  faults: Record<string, number>;
  notes: string[];
}

export interface Dfget { host: number; proc: RunningProcess; output: string }

export class Round {
  readonly outcome: RoundOutcome = {
    downloads: 0, corruptOutputs: 0, failedDownloads: 0, cleanFailures: 0, honestBlacklisted: 0, leaked: 0, hung: false, faults: {}, notes: [],
  };
  readonly digests = new Set<string>();
  supernode: RunningProcess | null = null;
  private snPort = 0;
  private supernodeArgs: string[] = [];
  private closing = false;
  private readonly procs: RunningProcess[] = [];
  private readonly mounts: string[] = [];
  private readonly closers: (() => void)[] = [];

  constructor(readonly index: number, readonly dir: string, readonly origin: HttpOrigin, readonly path: string, readonly rng: Rng,
    readonly liars: number) {}

  get url(): string { return this.origin.urlFor(this.path); }
  get supernodeAddr(): string { return `127.0.0.1:${this.snPort}`; }
  home(host: number): string { return join(this.dir, `h${host}`); }
  fault(kind: string, count = 1): void { this.outcome.faults[kind] = (this.outcome.faults[kind] ?? 0) + count; }
  note(text: string): void { this.outcome.notes.push(text); }
  onClose(close: () => void): void { this.closers.push(close); }
  mounted(dir: string): void { this.mounts.push(dir); }

  async put(content: Buffer): Promise<void> {
    await this.origin.put(this.path, content);
    this.digests.add(`sha256:${createHash('sha256').update(content).digest('hex')}`);
  }

  /** Start the round's supernode; `extra` flags are kept for its restarts (kill -9 rounds). */
  async startSupernode(extra?: string[]): Promise<void> {
    this.refuseIfClosing();
    if (extra) this.supernodeArgs = extra;
    if (this.snPort === 0) this.snPort = await freePort();
    this.supernode = await startBin('supernode', ['--home', join(this.dir, 'sn'), '--piece-size-bytes', String(PIECE_BYTES), '--seed', `round-${this.index}`,
      ...this.supernodeArgs],
      { portFlag: '--port', port: this.snPort, readyTimeoutMs: 45_000 });
    this.procs.push(this.supernode);
  }

  /** Start dfget on host `host`'s home (again: it resumes from what that home holds). */
  async dfget(host: number, extra: string[] = []): Promise<Dfget> {
    this.refuseIfClosing();
    const output = join(this.home(host), 'out.bin');
    const proc = await startBin('dfget', ['--url', this.url, '--output', output, '--home', this.home(host), '--node', this.supernodeAddr,
      '--json', '--quiet', '--uploader-idle-exit', '2min', ...extra]);
    this.procs.push(proc);
    return { host, proc, output };
  }

  /** Start hosts [from, to) a few random ms apart. */
  async swarm(from: number, to: number, extra: string[] = []): Promise<Dfget[]> {
    const runs: Dfget[] = [];
    for (let host = from; host < to; host++) {
      runs.push(await this.dfget(host, extra));
      await sleep(Math.floor(this.rng.next() * 150));
    }
    return runs;
  }

  /** Wait for each dfget and check it; `mayFail` downloads may exit non-zero but never write a wrong file. */
  async settle(runs: Dfget[], mayFail = false): Promise<void> {
    for (const run of runs) {
      const exit = await run.proc.exited;
      this.outcome.downloads++;
      const digest = existsSync(run.output) ? await fileDigest(run.output) : null;
      if (digest !== null && !this.digests.has(digest)) {
        this.outcome.corruptOutputs++;
        this.note(`CORRUPT output on h${run.host}: ${digest} (exit ${exit.code})`);
      } else if (exit.code !== 0 || digest === null) {
        if (mayFail) this.outcome.cleanFailures++;
        else this.outcome.failedDownloads++;
        this.note(`h${run.host} dfget exit ${exit.code ?? exit.signal}${digest === null ? ', no output' : ''}: ${lastLine(run.proc.stderr)}`);
      }
    }
  }

  async uploaderPid(host: number): Promise<number | null> { return (await readLock(this.home(host)))?.pid ?? null; }
  async uploaderAddr(host: number): Promise<string | null> {
    const lock = await readLock(this.home(host));
    return lock ? `127.0.0.1:${lock.port}` : null;
  }

  /** Stop everything, count leaks, remove the dir. */
  async close(hosts: number): Promise<void> {
    this.closing = true;
    for (const close of this.closers) close();
    await this.supernode?.stop('SIGTERM', 4000);
    for (let host = 0; host < hosts; host++) await stopUploaderOf(this.home(host)).catch(() => undefined);
    for (const proc of this.procs) if (!proc.exit) void proc.stop('SIGTERM', 4000);
    const alive = await waitGone(this.dir, LEAK_GRACE_MS);
    if (alive.length > 0) {
      this.outcome.leaked += alive.length;
      this.note(`leaked pids ${alive.join(', ')} still alive ${LEAK_GRACE_MS} ms after teardown`);
      killPids(alive);
    }
    for (const dir of this.mounts) unmount(dir);
    removeDir(this.dir);
  }

  private refuseIfClosing(): void {
    if (this.closing) throw new Error('round is closing: no new processes');
  }
}

export function fileDigest(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path).on('data', (chunk) => hash.update(chunk)).on('error', reject).on('end', () => resolve(`sha256:${hash.digest('hex')}`));
  });
}

function lastLine(text: string): string {
  const lines = text.trim().split('\n');
  return (lines[lines.length - 1] ?? '').slice(0, 200);
}
