/**
 * Finding the campaign's processes by pid: every process it starts (supernode, dfget, the
 * uploaders dfget spawns detached) carries a path under the campaign's work dir in its command
 * line, so one scan of /proc lists them, whoever spawned them. Used to check that a round leaked
 * nothing and to end what is left (by pid) on failure or Ctrl-C.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { sleep } from '../../transport/real-timer.ts';

/** Pids (other than ours) whose command line mentions `marker`. */
export function pidsMentioning(marker: string): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (cmdline.includes(marker) && !isZombie(name)) found.push(Number(name));
  }
  return found;
}

function isZombie(pid: string): boolean {
  try {
    return / Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\)/, ''));
  } catch {
    return true;
  }
}

/** Wait up to `graceMs` for every process mentioning `marker` to exit; returns those still alive. */
export async function waitGone(marker: string, graceMs: number): Promise<number[]> {
  const deadline = Date.now() + graceMs;
  let alive = pidsMentioning(marker);
  while (alive.length > 0 && Date.now() < deadline) {
    await sleep(100);
    alive = pidsMentioning(marker);
  }
  return alive;
}

/** SIGKILL each pid (they are ours: found by our own work dir). */
export function killPids(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
