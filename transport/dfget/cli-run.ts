/**
 * What `dfget` does once its flags are good (cli.ts checks them and imports this): find the
 * supernodes, run the download with a progress bar on the terminal, say on stderr when it goes
 * back to the source, and print the result. Returns the exit code.
 */
import { resolve } from 'node:path';
import { ManagerClient } from '../manager/client.ts';
import { DEFAULT_SUPERNODE_PORT } from '../wire.ts';
import { DownloadError } from './download-error.ts';
import type { DownloadRequest, DownloadResult } from './download-request.ts';
import { DownloadSession, type SessionTuning } from './download-session.ts';
import { DEFAULT_HOME, fileLogger, homeLayout, prepareHome, readStoredSupernodes, type LogFn } from './home.ts';
import { downloadViaManager } from './manager-download.ts';
import { ProgressBar } from './progress-bar.ts';
import { redactCredentials } from '../redact.ts';
import type { CliOptions } from './cli.ts';

export async function runDownload(opts: CliOptions): Promise<number> {
  const home = resolve(opts.home ?? DEFAULT_HOME);
  const supernodes = opts.node ?? (opts.manager ? [] : await storedOrDefault(home));
  const abort = new AbortController();
  const onSignal = (): void => abort.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const showBar = !opts.quiet && (opts.showbar || process.stderr.isTTY === true);
  const bar = showBar ? new ProgressBar(process.stderr) : null;
  const log = logger(home, opts.verbose, bar);
  const req: DownloadRequest = {
    url: opts.url, headers: opts.header, outputPath: resolve(opts.output), homeDir: home, supernodes,
    localLimitBytesPerSec: opts.locallimit, totalLimitBytesPerSec: opts.totallimit, uploadLimitBytesPerSec: opts.uploadLimit,
    ...(opts.digest ? { digest: opts.digest } : {}), ...(opts.md5 ? { md5: opts.md5 } : {}), ...(opts.identifier ? { identifier: opts.identifier } : {}),
    pattern: opts.pattern, backToSource: opts.backSource, timeoutMs: opts.timeout, signal: abort.signal, idc: opts.idc, location: opts.location,
    ...(bar ? { onProgress: (p) => bar.update(p) } : {}),
    onBackToSource: (why) => {
      bar?.finish();
      process.stderr.write(`dfget: ${redactCredentials(why)}; downloading from the source instead (--notbs to fail instead)\n`);
    },
  };
  const tuning: SessionTuning = { uploaderIdleExit: opts.uploaderIdleExit, uploadHost: opts.uploadHost, dataMax: opts.dataMax, log };
  const once = async (r: DownloadRequest): Promise<DownloadResult> => (await DownloadSession.open(r, tuning)).run();
  try {
    if (opts.callsystem !== undefined) log('info', `--callsystem ${JSON.stringify(opts.callsystem)} is accepted for Dragonfly compatibility and ignored`);
    const result = opts.manager ? await downloadViaManager(await managerClient(home, opts, opts.manager, log), req, once) : await once(req);
    bar?.update({ bytesDone: result.totalBytes, totalBytes: result.totalBytes, fromPeersBytes: result.fromPeersBytes, fromSupernodeBytes: result.fromSupernodeBytes }, true);
    bar?.finish();
    if (opts.json) process.stdout.write(`${JSON.stringify(result)}\n`);
    else if (!opts.quiet) process.stderr.write(`dfget: saved ${result.outputPath} in ${(result.elapsedMs / 1000).toFixed(1)} s\n`);
    return 0;
  } catch (err) {
    bar?.finish();
    const error = err instanceof DownloadError ? err : new DownloadError('internal', `internal error: ${(err as Error).stack ?? String(err)}`);
    process.stderr.write(`dfget: ${redactCredentials(error.message)}\n`);
    return error.exitCode;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** The log file; with `--verbose` every line on stderr too (above the progress bar). */
function logger(home: string, verbose: boolean, bar: ProgressBar | null): LogFn {
  const toFile = fileLogger(homeLayout(home).logFile, `dfget[${process.pid}]`);
  if (!verbose) return toFile;
  return (level, message) => {
    toFile(level, message);
    bar?.finish();
    process.stderr.write(`dfget: ${level} ${message}\n`);
  };
}

/** The seed's managing-node steps for this home: the answer is cached in its meta dir, log lines go to its log. */
async function managerClient(home: string, opts: CliOptions, managers: string[], log: LogFn): Promise<ManagerClient> {
  const layout = homeLayout(home);
  await prepareHome(layout).catch((err: Error) => { throw new DownloadError('io', err.message); });
  return new ManagerClient({ managers, idc: opts.idc, location: opts.location, metaDir: layout.metaDir, log });
}

async function storedOrDefault(home: string): Promise<string[]> {
  const stored = await readStoredSupernodes(homeLayout(home));
  return stored.length > 0 ? stored : [`127.0.0.1:${DEFAULT_SUPERNODE_PORT}`];
}
