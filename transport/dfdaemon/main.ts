/**
 * `dfdaemon`: a registry mirror for container engines on 127.0.0.1:65001. Layer blobs travel P2P
 * through the supernodes (dfget's download, in this process), everything else passes through
 * to the upstream registry. It hosts the uploader of its home dir, so the layers it pulled are
 * served to other peers for as long as it runs.
 */
import { readFileSync } from 'node:fs';
import { formatDiskLimit } from '../../core/eviction.ts';
import { download, type DownloadRequest } from '../dfget/download.ts';
import { homeLayout } from '../dfget/home.ts';
import { downloadViaManager } from '../dfget/manager-download.ts';
import { ManagerClient } from '../manager/client.ts';
import { startUploader, UploaderBusyError, type UploaderHandle } from '../uploader/uploader-server.ts';
import { buildProgram } from './cli.ts';
import { openLog } from './log.ts';
import { resolveConfig, type CliValues, type DfdaemonConfig } from './options.ts';
import { startMirror } from './server.ts';

const program = buildProgram();

program.parse();
const flags = program.opts<CliValues & { config?: string; advertiseIp: string }>();
// commander's --no-fallback always sets `fallback`; only an explicit flag may override the file.
const cli: CliValues = { ...flags, fallback: program.getOptionValueSource('fallback') === 'cli' ? flags.fallback : undefined };

let config: DfdaemonConfig;
try {
  const fileText = flags.config === undefined ? undefined : readConfigFile(flags.config);
  config = resolveConfig(cli, fileText, flags.config);
} catch (err) {
  process.stderr.write(`dfdaemon: ${(err as Error).message}\n`);
  process.exit(2);
}

const { log, path: logPath, close: closeLog } = openLog(config.homeDir);
// With a manager, each blob's supernodes follow the seed's steps: the cached answer first, the
// manager asked once more when all of them fail.
const manager = config.managers.length === 0 ? null : new ManagerClient({
  managers: config.managers, idc: config.idc, location: config.location, metaDir: homeLayout(config.homeDir).metaDir, log,
});
const blobDownload = manager ? (req: DownloadRequest) => downloadViaManager(manager, req, download) : download;
let mirror;
try {
  mirror = await startMirror({ config, download: blobDownload, log });
} catch (err) {
  const e = err as NodeJS.ErrnoException;
  if (e.syscall === 'listen') {
    const hint = e.code === 'EADDRINUSE' ? '; is another dfdaemon running? pick another --port' : '';
    process.stderr.write(`dfdaemon: cannot listen on ${config.host}:${config.port} (${e.code})${hint}\n`);
  } else {
    process.stderr.write(`dfdaemon: ${e.message}\n`);
  }
  await closeLog();
  process.exit(e.syscall === 'listen' ? 1 : 2);
}

// Downloads find the uploader of this home through its lock file; hosting it here keeps the
// pulled layers available to other peers for as long as dfdaemon runs.
let uploader: UploaderHandle | null = null;
try {
  uploader = await startUploader({
    homeDir: config.homeDir, host: flags.advertiseIp, port: 0, idleExitMs: 0,
    totalLimitBytesPerSec: config.totalLimitBytesPerSec, dataLimit: config.dataLimit,
    log: (level, message) => log(level, `uploader: ${message}`),
    // The fault is logged; a mirror whose uploader stopped would serve blobs but never seed them.
    onFault: () => void shutdown('uploader fault', 1),
  });
} catch (err) {
  if (!(err instanceof UploaderBusyError)) throw err;
  log('info', `the uploader of ${config.homeDir} already runs (${err.lock.addr}); downloads will list their pieces there`);
}
const upstreams = [config.defaultUpstream?.url, ...config.hostUpstreams.map((u) => `${u.key}=${u.url}`)].filter(Boolean).join(', ');
const supernodes = manager ? `from manager ${config.managers.join(',')} (idc "${config.idc}", location "${config.location}")` : config.supernodes.join(',');
log('info', `dfdaemon mirroring ${upstreams} on http://${mirror.addr}; supernodes ${supernodes}; ` +
  `localrepo ${config.localRepoDir} (limit ${formatDiskLimit(config.repoLimit)}); data dir limit ${formatDiskLimit(config.dataLimit)}; ` +
  `uploader ${uploader?.addr ?? 'shared'}; log ${logPath}`);

let stopping = false;
async function shutdown(reason: string, exitCode = 0): Promise<void> {
  if (stopping) return;
  stopping = true;
  log(exitCode === 0 ? 'info' : 'error', `${reason}: stopping; ${JSON.stringify(mirror!.stats())}`);
  await mirror!.close();
  await uploader?.close();
  await closeLog();
  process.exit(exitCode);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));

function readConfigFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read --config ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}
