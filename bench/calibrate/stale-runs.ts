/**
 * A run's work dir (homes, logs, the origin's file) carries the pid of the run that made it, so
 * that what a run killed with SIGKILL left behind can be found by the next one: its work dir,
 * and in the app shape the processes it started (supernode, uploaders, dfgets), which all name
 * that dir on their command line. (In the netns shape they also sit in its namespaces, which
 * netns.ts removes.)
 */
import { pidsMentioning } from '../testbed/proc-scan.ts';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killPids, pidAlive } from './commands.ts';

const PREFIX = 'sdf-calibrate-';
const STALE = new RegExp(`^${PREFIX}(\\d+)-`);

/** A fresh work dir named after this process. */
export function newWorkDir(): string {
  return mkdtempSync(join(tmpdir(), `${PREFIX}${process.pid}-`));
}

/** Stop the processes of dead runs and remove their work dirs; returns how many dirs were removed. */
export async function removeStaleWorkDirs(log: (message: string) => void): Promise<number> {
  const stale = readdirSync(tmpdir()).filter((name) => {
    const match = STALE.exec(name);
    return match !== null && Number(match[1]) !== process.pid && !pidAlive(Number(match[1]));
  });
  for (const name of stale) {
    const dir = join(tmpdir(), name);
    const pids = pidsMentioning(dir);
    log(`removing ${dir}, left by a run that did not clean up${pids.length > 0 ? `, and stopping its ${pids.length} process(es)` : ''}`);
    await killPids(pids);
    rmSync(dir, { recursive: true, force: true });
  }
  return stale.length;
}
