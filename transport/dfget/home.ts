/**
 * The dfget home dir (`--home`, default `~/.small-dragonfly`), per the seed: `data/` for
 * downloads and `.server` backups, `meta/` for node info and the supernode list (so the next run
 * knows them), `logs/dfclient.log`.
 */
import { closeSync, openSync, promises as fs, writeSync } from 'node:fs';
import { hostname, homedir, networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { makeDirs } from '../make-dirs.ts';
import { redactCredentials } from '../redact.ts';

export const DEFAULT_HOME = join(homedir(), '.small-dragonfly');

export interface HomeLayout {
  homeDir: string;
  dataDir: string;
  metaDir: string;
  logFile: string;
}

export function homeLayout(homeDir: string): HomeLayout {
  return { homeDir, dataDir: join(homeDir, 'data'), metaDir: join(homeDir, 'meta'), logFile: join(homeDir, 'logs', 'dfclient.log') };
}

/** Create the dirs; a failure here is the user's to fix (permissions, disk), so say where. */
export async function prepareHome(layout: HomeLayout): Promise<void> {
  for (const dir of [layout.dataDir, layout.metaDir, join(layout.homeDir, 'logs')]) {
    try {
      await makeDirs(dir);
    } catch (err) {
      throw new Error(`cannot create ${dir} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); check --home`);
    }
  }
}

/** Node info and the supernode list, cached for later runs and for people debugging a host. */
export async function writeNodeMeta(layout: HomeLayout, supernodes: string[]): Promise<void> {
  const addresses = Object.values(networkInterfaces()).flat()
    .filter((a) => a !== undefined && !a.internal).map((a) => a!.address);
  await fs.writeFile(join(layout.metaDir, 'node.json'), JSON.stringify({ hostname: hostname(), addresses }, null, 2));
  if (supernodes.length > 0) await fs.writeFile(join(layout.metaDir, 'supernodes.json'), JSON.stringify({ supernodes }, null, 2));
}

/** The supernode list a previous run stored, if any. */
export async function readStoredSupernodes(layout: HomeLayout): Promise<string[]> {
  try {
    const v = JSON.parse(await fs.readFile(join(layout.metaDir, 'supernodes.json'), 'utf8')) as { supernodes?: unknown };
    return Array.isArray(v.supernodes) ? v.supernodes.filter((s): s is string => typeof s === 'string') : [];
  } catch {
    return [];
  }
}

export type LogFn = (level: 'info' | 'warn', message: string) => void;

/** Open log files of this process, by path (dfget has one; in-process tests open a few). */
const logFds = new Map<string, number>();
const MAX_OPEN_LOGS = 16;

/**
 * Lines appended to `logFile` through one descriptor opened in append mode (other processes of
 * the home, its uploader, append to the same file): each line is one write, no open and close
 * per line as a download logs a few lines per piece. A log that cannot be written never fails a
 * download.
 */
export function fileLogger(logFile: string, tag: string): LogFn {
  return (level, message) => {
    const line = `${new Date().toISOString()} ${level} ${tag} ${redactCredentials(message)}\n`;
    try {
      writeSync(logFdOf(logFile), line);
    } catch {
      // logging is best effort; a descriptor that failed is reopened by the next line
      closeLog(logFile);
    }
  };
}

function logFdOf(logFile: string): number {
  const open = logFds.get(logFile);
  if (open !== undefined) return open;
  if (logFds.size >= MAX_OPEN_LOGS) closeLog(logFds.keys().next().value!);
  const fd = openSync(logFile, 'a');
  logFds.set(logFile, fd);
  return fd;
}

function closeLog(logFile: string): void {
  const fd = logFds.get(logFile);
  logFds.delete(logFile);
  if (fd !== undefined) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
  }
}
