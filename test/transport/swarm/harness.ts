/**
 * A swarm of real processes on 127.0.0.1 for dfget integration tests, the transport benchmark and
 * the live demo: an in-process origin (counting the bytes it sends), supernode processes and
 * dfget processes, each dfget with its own home (so its own background uploader, as on a
 * separate host). `stop()` ends everything it started, uploaders included (by the pids in the
 * lock files of the homes it created).
 */
import { randomBytes, createHash } from 'node:crypto';
import { promises as fs, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HttpOrigin, type OriginFileOptions } from '../../../bench/testbed/http-origin.ts';
import type { DownloadResult } from '../../../transport/dfget/download.ts';
import { stopUploaderOf } from '../../../bench/testbed/stop-uploader.ts';
import { ProcessGroup, removeDir, tempDir, type RunningProcess } from '../../../bench/testbed/processes.ts';

export { waitFor } from '../../../bench/testbed/processes.ts';

export interface DfgetRun {
  proc: RunningProcess;
  home: string;
  output: string;
  /** Resolves with the parsed `--json` result, or rejects with the process's output. */
  result: Promise<DownloadResult>;
}

/** How a process is launched beyond its flags. */
export interface Launch {
  env?: Record<string, string>;
  /** Flags for node before the bin (a test fixture preloaded with `--import`). */
  nodeArgs?: string[];
}

export class Swarm {
  readonly procs = new ProcessGroup();
  private readonly dirs: string[] = [];
  private readonly homes = new Set<string>();
  readonly root: string;
  content = Buffer.alloc(0);
  contentDigest = '';

  private constructor(readonly origin: HttpOrigin) {
    this.root = tempDir('swarm');
    this.dirs.push(this.root);
  }

  static async start(): Promise<Swarm> {
    return new Swarm(await HttpOrigin.start());
  }

  /**
   * Start a swarm, run `body`, print every process's output and the tail of every home's log
   * (dfget's and its background uploader's lines) if it throws, and always stop.
   */
  static async run(body: (swarm: Swarm) => Promise<void>): Promise<void> {
    const swarm = await Swarm.start();
    try {
      await body(swarm);
    } catch (err) {
      swarm.procs.printLogs();
      swarm.printHomeLogs();
      throw err;
    } finally {
      await swarm.stop();
    }
  }

  /** Serve `sizeBytes` of random bytes at `path`; returns the URL. */
  async serveRandom(path: string, sizeBytes: number, options?: OriginFileOptions): Promise<string> {
    this.content = randomBytes(sizeBytes);
    this.contentDigest = sha256(this.content);
    await this.origin.put(path, this.content, options);
    return this.origin.urlFor(path);
  }

  async startSupernode(extraArgs: string[] = [], launch: Launch = {}): Promise<RunningProcess> {
    const home = this.newDir('sn');
    return this.procs.start('supernode', ['--home', home, ...extraArgs], { portFlag: '--port', ...launch });
  }

  /** A fresh home dir for a simulated host. */
  newHome(name: string): string {
    const home = this.newDir(name);
    this.homes.add(home);
    return home;
  }

  /**
   * Start `dfget` for `url` into `<home>/out.bin` with `--json --quiet`. `args` come after the
   * defaults, so a test can override any of them.
   */
  async dfget(home: string, url: string, supernodes: string[], args: string[] = [], launch: Launch = {}): Promise<DfgetRun> {
    this.homes.add(home);
    const output = join(home, 'out.bin');
    const proc = await this.procs.start('dfget', [
      '--url', url, '--output', output, '--home', home, '--node', supernodes.join(','),
      '--json', '--quiet', '--uploader-idle-exit', '30s', ...args,
    ], { healthPath: null, ...launch });
    const result = proc.exited.then((exit) => {
      if (exit.code !== 0) throw new Error(`dfget in ${home} exited ${exit.code ?? exit.signal}\n${proc.describe()}`);
      return JSON.parse(proc.stdout.trim().split('\n').pop() ?? '') as DownloadResult;
    });
    result.catch(() => {});
    return { proc, home, output, result };
  }

  /** SHA-256 of a file, `sha256:<hex>`. */
  async fileDigest(path: string): Promise<string> {
    return sha256(await fs.readFile(path));
  }

  /** Verified pieces recorded in the meta file of the download running in `home`. */
  verifiedPiecesIn(home: string): number {
    const dataDir = join(home, 'data');
    let count = 0;
    for (const name of safeReaddir(dataDir)) {
      if (!name.endsWith('.meta')) continue;
      try {
        const meta = JSON.parse(readFileSync(join(dataDir, name), 'utf8')) as { digests: (string | null)[] };
        count += meta.digests.filter((d) => d !== null).length;
      } catch {
        // being rewritten; the next poll sees it
      }
    }
    return count;
  }

  /** The last lines of each home's log, on stderr: what dfget and its uploader did, for a failed test. */
  printHomeLogs(linesPerHome = 150): void {
    for (const home of this.homes) {
      const lines = this.logOf(home).trimEnd().split('\n');
      console.error(`---- ${home}/logs/dfclient.log (last ${Math.min(linesPerHome, lines.length)} of ${lines.length} lines) ----\n${lines.slice(-linesPerHome).join('\n')}\n`);
      let uploaderErr = '';
      try {
        uploaderErr = readFileSync(join(home, 'logs', 'uploader.err'), 'utf8').trim();
      } catch {
        // no uploader was started for this home
      }
      if (uploaderErr) console.error(`---- ${home}/logs/uploader.err ----\n${uploaderErr.slice(-4000)}\n`);
    }
  }

  logOf(home: string): string {
    try {
      return readFileSync(join(home, 'logs', 'dfclient.log'), 'utf8');
    } catch {
      return '';
    }
  }

  async stop(): Promise<void> {
    await this.procs.stopAll();
    for (const home of this.homes) await stopUploaderOf(home);
    await this.origin.close();
    for (const dir of this.dirs) removeDir(dir);
  }

  private newDir(name: string): string {
    const dir = join(this.root, `${name}-${this.dirs.length}`);
    this.dirs.push(dir);
    return dir;
  }
}

export function sha256(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
