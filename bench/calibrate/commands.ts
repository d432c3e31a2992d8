/**
 * Running system commands (`ip`, `tc`) for the testbed: each call either succeeds or throws an
 * error that names the command and carries its stderr, so a failed setup says exactly which
 * step broke and why.
 */
import { execFile } from 'node:child_process';
import { pidAlive } from '../../transport/uploader/uploader-lock.ts';

export { pidAlive };

export class CommandError extends Error {
  constructor(readonly argv: string[], readonly code: number | string | null, readonly stderr: string) {
    super(`\`${argv.join(' ')}\` failed (${code ?? 'signal'}): ${stderr.trim() || 'no output'}`);
  }
}

/** Run `argv[0]` with the rest as arguments; resolves with stdout. */
export function run(argv: string[], timeoutMs = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(argv[0], argv.slice(1), { timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new CommandError(argv, (err as NodeJS.ErrnoException).code ?? null, `${stderr}`));
      else resolve(stdout);
    });
  });
}

/** Like `run`, but says only whether the command succeeded. */
export async function succeeds(argv: string[]): Promise<boolean> {
  try {
    await run(argv);
    return true;
  } catch {
    return false;
  }
}

export function sleepMs(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** SIGTERM the pids, wait up to `graceMs` for them to go, SIGKILL the rest and wait for those too. */
export async function killPids(pids: number[], graceMs = 2000): Promise<void> {
  const signal = (sig: NodeJS.Signals): void => {
    for (const pid of pids) {
      try { process.kill(pid, sig); } catch { /* already gone */ }
    }
  };
  signal('SIGTERM');
  const deadline = Date.now() + graceMs;
  while (pids.some(pidAlive) && Date.now() < deadline) await sleepMs(50);
  if (!pids.some(pidAlive)) return;
  signal('SIGKILL');
  const killDeadline = Date.now() + 5000;
  while (pids.some(pidAlive) && Date.now() < killDeadline) await sleepMs(50);
}
