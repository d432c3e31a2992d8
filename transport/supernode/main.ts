/**
 * `supernode` entry point: parse settings, prepare the home directory, start the server, and shut
 * down cleanly on SIGINT/SIGTERM (peers see close code 1001 and migrate to their next supernode),
 * or with status 1 when a core machine faults (the fault is in the log at error level).
 */
import { CommanderError } from 'commander';
import { join } from 'node:path';
import { makeDirsSync } from '../make-dirs.ts';
import { formatDiskLimit } from '../../core/eviction.ts';
import { formatRate } from '../../core/units.ts';
import { freshSeed } from '../../sim/seeded-rng.ts';
import { fileLogger } from './log.ts';
import { ManagerAnnouncer } from './manager-announcer.ts';
import { parseOptions, UsageError, type SupernodeOptions } from './options.ts';
import { SupernodeServer } from './server.ts';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export async function main(argv: string[]): Promise<number> {
  let opts: SupernodeOptions;
  try {
    opts = parseOptions(argv);
  } catch (err) {
    if (err instanceof CommanderError) return EXIT_OK;
    process.stderr.write(`supernode: ${(err as Error).message}\n`);
    return err instanceof UsageError ? EXIT_USAGE : EXIT_FAILURE;
  }
  try {
    makeDirsSync(join(opts.home, 'cdn'));
    makeDirsSync(join(opts.home, 'logs'));
  } catch (err) {
    process.stderr.write(`supernode: cannot create the home directory ${opts.home}: ${(err as Error).message}; set --home\n`);
    return EXIT_FAILURE;
  }
  const logger = fileLogger(join(opts.home, 'logs', 'supernode.log'), opts.logLevel);
  const log = (level: Parameters<typeof logger.log>[0], message: string): void => logger.log(level, message);
  // A bug that escapes every handler leaves state no one can vouch for: log it where the operator
  // looks, and exit non-zero so peers fail over and a supervisor restarts the process.
  process.on('uncaughtException', (err) => {
    log('error', `supernode crashed: ${err.stack ?? err.message}`);
    process.exit(EXIT_FAILURE);
  });
  const seed = opts.seed ?? freshSeed();
  let server: SupernodeServer;
  try {
    server = await SupernodeServer.start(opts, log, seed);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const hint = code === 'EADDRINUSE' ? '; is another supernode running? choose another --port'
      : code === 'EACCES' ? '; ports below 1024 need privileges, choose another --port' : '';
    log('error', `cannot listen on ${opts.host}:${opts.port} (${code ?? (err as Error).message})${hint}`);
    await logger.close();
    return EXIT_FAILURE;
  }
  log('info', `limits: in ${formatRate(opts.limitInBytesPerSec)}, out ${formatRate(opts.limitOutBytesPerSec)}, upload rate ${opts.uploadRateBytesPerSec > 0 ? formatRate(opts.uploadRateBytesPerSec) : 'unknown'}, CDN cache ${formatDiskLimit(opts.cacheLimit)}; `
    + `scheduler ${JSON.stringify(opts.core)}`);
  const announcer = opts.managers.length === 0 ? null : new ManagerAnnouncer({
    managers: opts.managers, address: hostPort(opts.advertiseIp ?? opts.host, server.port), idc: opts.idc, location: opts.location, log,
    load: () => server.peerCount,
  });
  announcer?.start();
  const stop = await new Promise<NodeJS.Signals | 'fault'>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
    void server.fault.then(() => resolve('fault'));
  });
  // A faulted machine was logged where it happened; exit non-zero so peers fail over.
  if (stop !== 'fault') log('info', `${stop}: shutting down`);
  // Leave the managers first, so no host is sent here while peers migrate away.
  await announcer?.close();
  await server.close();
  await logger.close();
  return stop === 'fault' ? EXIT_FAILURE : EXIT_OK;
}

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
