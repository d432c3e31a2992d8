/**
 * Running `npm run calibrate` from tests, and finding what a run may have left behind: processes
 * that still name its work dir, testbed namespaces, links and qdiscs in the root namespace.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { REPO_ROOT } from '../../bench/testbed/processes.ts';

export interface CalibrateRun {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<number | null>;
}

export function startCalibrate(args: string[]): CalibrateRun {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/calibrate/cli.ts', ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (chunk: Buffer) => { out += chunk.toString(); });
  child.stderr!.on('data', (chunk: Buffer) => { err += chunk.toString(); });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** The work dir a run announced on stderr ("work dir /tmp/sdf-calibrate-..."). */
export function workDirOf(stderr: string): string {
  const match = /work dir (\S+)/.exec(stderr);
  if (!match) throw new Error(`the run did not announce its work dir:\n${stderr}`);
  return match[1];
}

/** Pids of live processes whose command line mentions `text` (zombies excluded). */
export { pidsMentioning as processesMentioning } from '../../bench/testbed/proc-scan.ts';

/** Wait until `predicate` holds on the run's stderr; throws with the stderr after `timeoutMs`. */
export async function waitForStderr(run: CalibrateRun, predicate: RegExp, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate.test(run.stderr())) {
    if (Date.now() > deadline) throw new Error(`no ${predicate} on stderr within ${timeoutMs} ms:\n${run.stderr()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
