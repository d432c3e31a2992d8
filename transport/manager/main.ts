/**
 * `manager` entry point: parse flags, start the HTTP server, log to stderr, and stop cleanly on
 * SIGINT/SIGTERM. The table lives in memory only: after a restart supernodes reappear with their
 * next heartbeat (a third of --ttl), and hosts keep working from their meta cache meanwhile.
 */
import { CommanderError } from 'commander';
import { parseOptions, UsageError, type ManagerLogLevel, type ManagerOptions } from './options.ts';
import { ManagerServer } from './server.ts';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

const RANK: Record<ManagerLogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export async function main(argv: string[]): Promise<number> {
  let opts: ManagerOptions;
  try {
    opts = parseOptions(argv);
  } catch (err) {
    if (err instanceof CommanderError) return EXIT_OK;
    process.stderr.write(`manager: ${(err as Error).message}\n`);
    return err instanceof UsageError ? EXIT_USAGE : EXIT_FAILURE;
  }
  const log = (level: ManagerLogLevel, message: string): void => {
    if (RANK[level] >= RANK[opts.logLevel]) process.stderr.write(`${new Date().toISOString()} ${level} ${message}\n`);
  };
  let server: ManagerServer;
  try {
    server = await ManagerServer.start(opts, log);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const hint = code === 'EADDRINUSE' ? '; is another manager running? choose another --port'
      : code === 'EACCES' ? '; ports below 1024 need privileges, choose another --port' : '';
    process.stderr.write(`manager: cannot listen on ${opts.host}:${opts.port} (${code ?? (err as Error).message})${hint}\n`);
    return EXIT_FAILURE;
  }
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  log('info', `${signal}: shutting down`);
  await server.close();
  return EXIT_OK;
}
