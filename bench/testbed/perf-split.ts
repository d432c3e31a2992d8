/**
 * Where a benchmark's CPU goes, by process role and by kind of work: a system-wide `perf record
 * -a -g` over the measured part, split afterwards by the role of each sampled process (read from
 * /proc/<pid>/cmdline while the run went on: dfget, uploader, supernode) and by the first kind of
 * work found in the sample's call stack. Kinds are named from kernel and library symbols, so the
 * split needs nothing from our code: page-cache writes and reads, SHA-256, TCP receive and send,
 * page faults (on this VM a paravirtual fault is dear), garbage collection, V8 start-up and
 * compiling, and the rest (our JavaScript, Node's, libuv).
 *
 * Linux only, and only where `perf` is installed (Debian: linux-perf); root or
 * kernel.perf_event_paranoid <= 0 for system-wide sampling.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

/** Samples per second per CPU: `perf record -F`; a sample stands for 1/SAMPLE_HZ CPU-seconds. */
export const SAMPLE_HZ = 499;

/** Kinds of work, in the order a sample is matched (the first kind whose symbol is on its stack). */
export const KINDS: { kind: string; symbols: RegExp }[] = [
  { kind: 'SHA-256', symbols: /sha256_block_data_order/ },
  { kind: 'page-cache write', symbols: /generic_perform_write/ },
  { kind: 'page-cache read', symbols: /filemap_read/ },
  { kind: 'TCP receive', symbols: /^tcp_recvmsg/ },
  { kind: 'TCP send', symbols: /^tcp_sendmsg/ },
  { kind: 'page faults', symbols: /^asm_exc_page_fault/ },
  { kind: 'garbage collection', symbols: /v8::internal::(Heap::|Scavenger|MarkCompact|ConcurrentMarking|Sweeper|MinorMarkSweep)/ },
  { kind: 'start-up, compiling', symbols: /v8::internal::(Deserializer|Compiler|Parser|Scanner|interpreter::BytecodeGenerator)|node::LoadEnvironment/ },
];
export const OTHER = 'the rest';

export interface RoleSplit {
  role: string;
  cpuSeconds: number;
  /** CPU seconds by kind (KINDS, then OTHER). */
  byKind: Map<string, number>;
}

/** Which processes were which, by pid: polled from /proc while the run goes on. */
export class RoleWatch {
  private readonly roles = new Map<string, string>();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly roleOf: (cmdline: string) => string | null, intervalMs = 200) {
    this.poll();
    this.timer = setInterval(() => this.poll(), intervalMs);
    this.timer.unref();
  }

  stop(): Map<string, string> {
    clearInterval(this.timer);
    this.poll();
    return this.roles;
  }

  private poll(): void {
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid) || this.roles.has(pid)) continue;
      try {
        const role = this.roleOf(readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' '));
        if (role) this.roles.set(pid, role);
      } catch {
        // gone already
      }
    }
  }
}

/** A running `perf record -a -g`; `stop()` ends it and resolves once the file is written. */
export function startPerf(outFile: string): { stop: () => Promise<void> } {
  const child: ChildProcess = spawn('perf', ['record', '-a', '-g', '-F', String(SAMPLE_HZ), '-o', outFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000); });
  const exited = new Promise<boolean>((resolve) => {
    // Stopped by our SIGINT, perf writes its file and exits 0 or dies of the signal; either is fine once it says it wrote.
    child.on('close', (code, signal) => resolve(code === 0 || (signal === 'SIGINT' && /Captured and wrote/.test(stderr))));
    child.on('error', (err) => { stderr += err.message; resolve(false); });
  });
  return {
    stop: async () => {
      child.kill('SIGINT');
      if (!(await exited)) throw new Error(`perf record failed: ${stderr.trim()}`);
    },
  };
}

/** Read `perf script` of `dataFile` and split its samples by role (pids in `roles`) and kind. */
export async function splitByRole(dataFile: string, roles: Map<string, string>): Promise<RoleSplit[]> {
  const child = spawn('perf', ['script', '-i', dataFile, '-F', 'pid,tid,ip,sym,dso'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const split = new SampleSplitter(roles);
  for await (const line of createInterface({ input: child.stdout! })) split.line(line);
  return split.result();
}

/**
 * The parser behind `splitByRole`, fed `perf script -F pid,tid,ip,sym,dso` line by line: a sample
 * starts with a "pid/tid" line, then one line per stack frame ("  <ip> <symbol> (<dso>)").
 */
export class SampleSplitter {
  private readonly counts = new Map<string, Map<string, number>>();
  private role: string | null = null;
  /** Index in KINDS of the first-listed kind seen on the current sample's stack. */
  private kindIndex = -1;

  constructor(private readonly roles: Map<string, string>) {}

  line(text: string): void {
    const head = /^\s*(\d+)\/\d+\s*$/.exec(text);
    if (head) {
      this.flush();
      this.role = this.roles.get(head[1]) ?? null;
      this.kindIndex = -1;
      return;
    }
    if (this.role === null) return;
    const frame = /^\s+[0-9a-f]+\s+(.*?)\s+\(/.exec(text);
    if (!frame) return;
    const index = KINDS.findIndex((k) => k.symbols.test(frame[1]));
    if (index >= 0 && (this.kindIndex < 0 || index < this.kindIndex)) this.kindIndex = index;
  }

  result(): RoleSplit[] {
    this.flush();
    return [...this.counts].map(([role, byKind]) => {
      const seconds = new Map([...KINDS.map((k) => k.kind), OTHER].map((k) => [k, (byKind.get(k) ?? 0) / SAMPLE_HZ]));
      return { role, cpuSeconds: [...seconds.values()].reduce((a, b) => a + b, 0), byKind: seconds };
    }).sort((a, b) => b.cpuSeconds - a.cpuSeconds);
  }

  private flush(): void {
    if (this.role === null) return;
    const byKind = this.counts.get(this.role) ?? new Map<string, number>();
    this.counts.set(this.role, byKind);
    const kind = this.kindIndex >= 0 ? KINDS[this.kindIndex].kind : OTHER;
    byKind.set(kind, (byKind.get(kind) ?? 0) + 1);
    this.role = null;
  }
}

/** The split as lines of a table: a row per role, CPU seconds and each kind's share. */
export function formatSplit(split: RoleSplit[]): string[] {
  const kinds = [...KINDS.map((k) => k.kind), OTHER];
  const lines = [`${'role'.padEnd(11)}${'CPU s'.padStart(7)}  ${kinds.map((k) => k.padStart(Math.max(8, k.length))).join(' ')}`];
  for (const r of split) {
    lines.push(`${r.role.padEnd(11)}${r.cpuSeconds.toFixed(1).padStart(7)}  ${kinds.map((k) => `${(100 * r.byKind.get(k)! / r.cpuSeconds).toFixed(1)}%`.padStart(Math.max(8, k.length))).join(' ')}`);
  }
  return lines;
}
