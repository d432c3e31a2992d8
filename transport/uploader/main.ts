/**
 * The background uploader process one dfget starts per home dir (see uploader-link.ts in dfget).
 * It serves until idle, then exits; when another live uploader already holds the home's lock it
 * exits at once (status 0), so racing dfgets never leave two running.
 *
 *   node --import tsx transport/uploader/main.ts --home DIR [--host H] [--advertise-host H]
 *     [--totallimit RATE] [--upload-limit N] [--idle-exit DURATION]
 *
 * Test-only fault: DFGET_FAULT_CORRUPT_UPLOADS=1 in the environment flips bytes of every served
 * piece. It is read from this process's environment only; nothing on the network can set it.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { parseDurationMs, parseRate } from '../../core/units.ts';
import { startUploader, UploaderBusyError } from './uploader-server.ts';

const program = new Command('dfget-uploader')
  .requiredOption('--home <dir>', 'home dir whose data/ this uploader serves')
  .option('--host <host>', 'interface to listen on', '127.0.0.1')
  .option('--advertise-host <host>', 'host other peers dial (default: --host)')
  .option('--totallimit <rate>', 'upload limit of this node, 0 = unlimited', '0')
  .option('--upload-limit <n>', 'concurrent uploads (peerUpLimit)', '5')
  .option('--idle-exit <duration>', 'exit after idle this long', '5min')
  .option('--unlist-after <duration>', 'drop a task from the upload list after unused this long', '3min')
  .parse();

const opts = program.opts<{
  home: string; host: string; advertiseHost?: string; totallimit: string; uploadLimit: string; idleExit: string; unlistAfter: string;
}>();
const logDir = join(opts.home, 'logs');
mkdirSync(logDir, { recursive: true });
const logFile = join(logDir, 'dfclient.log');
const log = (level: 'info' | 'warn', message: string): void => {
  appendFileSync(logFile, `${new Date().toISOString()} ${level} uploader[${process.pid}] ${message}\n`);
};

try {
  const handle = await startUploader({
    homeDir: opts.home,
    host: opts.host,
    port: 0,
    advertiseHost: opts.advertiseHost,
    uploadLimit: Number(opts.uploadLimit),
    totalLimitBytesPerSec: parseRate(opts.totallimit),
    idleExitMs: parseDurationMs(opts.idleExit),
    unlistAfterMs: parseDurationMs(opts.unlistAfter),
    corruptUploads: process.env.DFGET_FAULT_CORRUPT_UPLOADS === '1',
    log,
    onIdleExit: () => process.exit(0),
  });
  const stop = (): void => { void handle.close().then(() => process.exit(0)); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} catch (err) {
  if (err instanceof UploaderBusyError) process.exit(0);
  log('warn', `cannot start: ${(err as Error).message}`);
  process.exit(1);
}
