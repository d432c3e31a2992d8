/**
 * One uploader per home dir. The lock file `<home>/meta/uploader.lock` holds the owner's pid,
 * data-plane port and a control token; only the owner may list tasks with it.
 *
 * The lock is created with full content in one step (write a private temp file, then `link` it
 * to the lock name, which fails if the name exists), so a reader never sees a half-written lock.
 * A lock whose pid is dead, or whose port refuses connections (the pid was reused), is stale:
 * a newcomer takes it over under a second exclusive `.takeover` file, so two newcomers never both
 * win. The owner removes the lock before it stops listening, so a live lock always answers.
 *
 * A dfget that starts a background uploader writes the lock itself, for the child's pid, the
 * moment it spawns it (with a port it picked): the download can register its upload address at
 * once instead of waiting seconds for the child to boot, and a second dfget sees the lock and
 * never starts another. Such a lock counts as live while the pid lives and the child is within
 * `BOOT_GRACE_MS` of its start, even though its port does not answer yet.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { sleep } from '../real-timer.ts';

export interface UploaderLock {
  pid: number;
  /** Data-plane (and control) port on `host`. */
  port: number;
  /** Address peers use to reach this uploader (`host:port`). */
  addr: string;
  /** Secret for the loopback control channel; the lock file is readable by its owner only. */
  token: string;
  /** Wall-clock ms when the lock was written (boot grace of a just-spawned uploader). */
  startedAtMs: number;
}

/** How long a just-spawned uploader may take to start answering on its port. */
export const BOOT_GRACE_MS = 20_000;

/** A takeover file older than this belongs to a process that died mid-takeover. */
const TAKEOVER_STALE_MS = 10_000;

export function lockPath(homeDir: string): string {
  return join(homeDir, 'meta', 'uploader.lock');
}

export function newControlToken(): string {
  return randomBytes(16).toString('hex');
}

/** The current lock, or null when there is none or it is unreadable (treated as absent). */
export async function readLock(homeDir: string): Promise<UploaderLock | null> {
  let text: string;
  try {
    text = await fs.readFile(lockPath(homeDir), 'utf8');
  } catch {
    return null;
  }
  try {
    const v = JSON.parse(text) as Record<string, unknown>;
    if (Number.isSafeInteger(v.pid) && Number.isSafeInteger(v.port) && typeof v.addr === 'string' && typeof v.token === 'string'
      && typeof v.startedAtMs === 'number') {
      return { pid: v.pid as number, port: v.port as number, addr: v.addr, token: v.token, startedAtMs: v.startedAtMs };
    }
  } catch {
    // a torn or foreign file: fall through
  }
  return null;
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function portAnswers(port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const finish = (ok: boolean): void => { socket.destroy(); resolve(ok); };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
  });
}

/** Whether `lock` belongs to a live uploader (answering, or still booting). */
export async function lockIsLive(lock: UploaderLock, nowEpochMs = Date.now()): Promise<boolean> {
  if (!pidAlive(lock.pid)) return false;
  return nowEpochMs - lock.startedAtMs < BOOT_GRACE_MS || await portAnswers(lock.port);
}

/** Wait until the uploader of `lock` answers on its port; false if it died or overran its boot grace. */
export async function waitUntilAnswering(lock: UploaderLock): Promise<boolean> {
  for (;;) {
    if (await portAnswers(lock.port)) return true;
    if (!pidAlive(lock.pid) || Date.now() - lock.startedAtMs >= BOOT_GRACE_MS) return false;
    await sleep(50);
  }
}

/**
 * Try to own the lock for `mine`. Returns null on success, or the live lock of the uploader that
 * already serves this home.
 *
 * A lock with `mine`'s pid and token is `mine` already: a spawning dfget and the uploader it
 * spawned both take the child's lock (the dfget at once, the child when it boots if the dfget's
 * lock is not there yet), and on a busy machine either can come first. Taken for a rival's, the
 * dfget would kill its own uploader, or the uploader exit as "busy", and the address the download
 * registered with would refuse connections (peers then accuse it, and the supernode's probe finds
 * it unreachable and blacklists an honest host).
 */
export async function acquireLock(homeDir: string, mine: UploaderLock): Promise<UploaderLock | null> {
  const path = lockPath(homeDir);
  const temp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`;
  await fs.writeFile(temp, JSON.stringify(mine), { mode: 0o600 });
  try {
    for (let attempt = 0; attempt < 50; attempt++) {
      if (await linkExclusive(temp, path)) return null;
      const current = await readLock(homeDir);
      if (current && current.pid === mine.pid && current.token === mine.token) return null;
      if (current && await lockIsLive(current)) return current;
      if (await takeOver(homeDir, temp, current)) return null;
      await sleep(20 + Math.floor(Math.random() * 40));
    }
    throw new Error(`could not take the uploader lock ${path}; remove it if no uploader runs for this home`);
  } finally {
    await fs.rm(temp, { force: true });
  }
}

async function takeOver(homeDir: string, temp: string, stale: UploaderLock | null): Promise<boolean> {
  const path = lockPath(homeDir);
  const takeover = `${path}.takeover`;
  if (!await linkExclusive(temp, takeover)) {
    const stat = await fs.stat(takeover).catch(() => null);
    if (stat && Date.now() - stat.mtimeMs > TAKEOVER_STALE_MS) await fs.rm(takeover, { force: true });
    return false;
  }
  try {
    // Re-read under the takeover lock: someone may have replaced the stale lock meanwhile.
    const current = await readLock(homeDir);
    const same = current === null ? stale === null : stale !== null && current.pid === stale.pid && current.token === stale.token;
    if (!same) return false;
    await fs.rm(path, { force: true });
    return await linkExclusive(temp, path);
  } finally {
    await fs.rm(takeover, { force: true });
  }
}

/** Remove the lock if it is still `mine` (never someone else's). */
export async function releaseLock(homeDir: string, mine: UploaderLock): Promise<void> {
  const current = await readLock(homeDir);
  if (current && current.pid === mine.pid && current.token === mine.token) await fs.rm(lockPath(homeDir), { force: true });
}

async function linkExclusive(from: string, to: string): Promise<boolean> {
  try {
    await fs.link(from, to);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

