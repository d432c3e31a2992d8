/**
 * The background uploader process one dfget starts per home dir (see uploader-link.ts in dfget).
 * It serves until idle, then exits; when another live uploader already holds the home's lock it
 * exits at once (status 0), so racing dfgets never leave two running.
 *
 *   node --import tsx transport/uploader/main.ts --home DIR [--host H] [--port N] [--advertise-host H]
 *     [--totallimit RATE] [--idle-exit DURATION] [--data-max SIZE|N%]
 *
 * Only local limits are flags (`--data-max` bounds `<home>/data`, see data-keeper.ts): upload slots, the per-requester cap and the unlist time come from
 * the supernodes' settings, which this home's downloads (and its seeded registrations) bring.
 * Finished downloads it is told to seed are registered with their supernodes (seeder.ts). A fault
 * in a core machine is logged and ends the process with status 1.
 *
 * A dfget that spawns it picks the port and writes the lock for it at once; it hands over the
 * lock's control token in DFGET_UPLOADER_TOKEN (not on the command line, where `ps` shows it).
 *
 * Test-only fault: DFGET_FAULT_CORRUPT_UPLOADS=1 in the environment flips bytes of every served
 * piece. It is read from this process's environment only; nothing on the network can set it.
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeDirsSync } from '../make-dirs.ts';
import { redactCredentials } from '../redact.ts';
import { Command, Option } from 'commander';
import { parseBytes, parseDurationMs, parseRate } from '../../core/units.ts';
import { parseDiskLimit, type DiskLimit } from '../../core/eviction.ts';
import { releaseLock } from './uploader-lock.ts';
import type { UploaderLogLevel } from './piece-server.ts';
import { startUploader, UploaderBusyError } from './uploader-server.ts';

const program = new Command('dfget-uploader')
  .requiredOption('--home <dir>', 'home dir whose data/ this uploader serves')
  .option('--host <host>', 'interface to listen on', '127.0.0.1')
  .option('--port <n>', 'port to listen on (0 = any)', '0')
  .option('--advertise-host <host>', 'host other peers dial (default: --host)')
  .option('--totallimit <rate>', 'upload limit of this node, 0 = unlimited', '0')
  .option('--idle-exit <duration>', 'exit after idle this long', '5min')
  .option('--data-max <size|N%>', 'size limit of <home>/data (default 90% of its filesystem)', '90%')
  .addOption(new Option('--log-level <level>', 'debug adds a line per served piece with where its time went').choices(['debug', 'info']).default('info'))
  .parse();

const opts = program.opts<{ home: string; host: string; port: string; advertiseHost?: string; totallimit: string; idleExit: string; dataMax: string; logLevel: 'debug' | 'info' }>();
const logDir = join(opts.home, 'logs');
makeDirsSync(logDir);
const logFile = join(logDir, 'dfclient.log');
const log = (level: UploaderLogLevel | 'debug', message: string): void => {
  try {
    appendFileSync(logFile, `${new Date().toISOString()} ${level} uploader[${process.pid}] ${redactCredentials(message)}\n`);
  } catch {
    // A full disk must not stop the uploader from serving; logging is best effort.
  }
};

try {
  const handle = await startUploader({
    homeDir: opts.home,
    host: opts.host,
    port: Number(opts.port),
    advertiseHost: opts.advertiseHost,
    totalLimitBytesPerSec: parseRate(opts.totallimit),
    idleExitMs: parseDurationMs(opts.idleExit),
    dataLimit: diskLimitOrThrow(opts.dataMax),
    corruptUploads: process.env.DFGET_FAULT_CORRUPT_UPLOADS === '1',
    log,
    ...(opts.logLevel === 'debug' ? { onPieceTiming: (message: string) => log('debug', message) } : {}),
    onIdleExit: () => process.exit(0),
    onFault: () => process.exit(1),
    ...(process.env.DFGET_UPLOADER_TOKEN ? { presetToken: process.env.DFGET_UPLOADER_TOKEN } : {}),
  });
  const stop = (): void => { void handle.close().then(() => process.exit(0)); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} catch (err) {
  if (err instanceof UploaderBusyError) process.exit(0);
  log('error', `cannot start: ${(err as Error).message}`);
  const token = process.env.DFGET_UPLOADER_TOKEN;
  if (token) await releaseLock(opts.home, { pid: process.pid, port: Number(opts.port), addr: '', token, startedAtMs: 0 });
  process.exit(1);
}

function diskLimitOrThrow(text: string): DiskLimit {
  const limit = parseDiskLimit(text, parseBytes);
  if (limit.kind === 'disk-limit-error') throw new Error(`--data-max: ${limit.message}`);
  return limit;
}
