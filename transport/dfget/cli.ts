/**
 * `dfget`: download one URL through the P2P network.
 *
 *   dfget --url URL --output PATH [--node host:port[,host:port...]] [--locallimit 10M] ...
 *
 * Flags are checked before anything starts; a bad one exits with status 2 and says which.
 */
import { resolve } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { parseDiskLimit } from '../../core/eviction.ts';
import { idcProblem, locationProblem } from '../../core/manager-api.ts';
import { parseBytes, parseDurationMs, parseRate } from '../../core/units.ts';
import { ManagerClient, parseManagerList } from '../manager/client.ts';
import { DEFAULT_SUPERNODE_PORT } from '../wire.ts';
import { DownloadError, EXIT_CODES } from './download-error.ts';
import type { DownloadPattern, DownloadRequest, DownloadResult } from './download-request.ts';
import { DownloadSession, type SessionTuning } from './download-session.ts';
import { DEFAULT_HOME, fileLogger, homeLayout, prepareHome, readStoredSupernodes } from './home.ts';
import { downloadViaManager } from './manager-download.ts';
import { ProgressBar } from './progress-bar.ts';

const EXIT_HELP = `
Exit codes:
  ${EXIT_CODES.ok}    the file is at --output and verified
  ${EXIT_CODES.internal}    internal error (a bug: please report it with logs/dfclient.log)
  ${EXIT_CODES.usage}    bad command-line flags
  ${EXIT_CODES['supernode-unreachable']}    no supernode could be reached and back-to-source was off, or (--manager) no
       manager answered and meta/ holds no supernode list
  ${EXIT_CODES['source-error']}    the source refused the file (404, 401/403 needs --header, ...)
  ${EXIT_CODES['digest-mismatch']}    the file does not match --digest
  ${EXIT_CODES.timeout}    --timeout passed before the download finished
  ${EXIT_CODES.io}    cannot read or write a file (home dir, output path, disk full)
  ${EXIT_CODES.failed}    the download failed for another reason (see the message)
  ${EXIT_CODES.aborted}  interrupted (Ctrl-C); rerun the same command to resume

Files (under --home): data/ downloads and .server backups (kept under --data-max by this home's
uploader), meta/ node info and supernode list (manager.json: the managing node's answer),
logs/dfclient.log. A rerun with the same --url and --output resumes from the verified pieces.

With --manager, the supernodes are the manager's (cached in meta/manager.json and reused, the
assigned one first); when every one of them fails, the manager is asked once more.`;

function parseNodes(text: string): string[] {
  const nodes = text.split(',').map((s) => s.trim()).filter((s) => s.length > 0)
    .map((s) => (s.includes(':') ? s : `${s}:${DEFAULT_SUPERNODE_PORT}`));
  for (const node of nodes) {
    const match = /^([A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\]):(\d{1,5})$/.exec(node);
    if (!match || Number(match[2]) < 1 || Number(match[2]) > 65535) {
      throw new InvalidArgumentError(`"${node}" is not host:port (e.g. 127.0.0.1:8002)`);
    }
  }
  if (nodes.length === 0) throw new InvalidArgumentError('give at least one host:port');
  return nodes;
}

function parseHeader(text: string, previous: Record<string, string>): Record<string, string> {
  const at = text.indexOf(':');
  if (at <= 0) throw new InvalidArgumentError(`"${text}" is not "Name: value"`);
  const name = text.slice(0, at).trim();
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) throw new InvalidArgumentError(`"${name}" is not a valid header name`);
  return { ...previous, [name]: text.slice(at + 1).trim() };
}

function asArgument<T>(parse: (text: string) => T): (text: string) => T {
  return (text) => {
    try {
      return parse(text);
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message);
    }
  };
}

function parseUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new InvalidArgumentError(`"${text}" is not a URL (e.g. http://host/path/file)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidArgumentError(`only http and https URLs are supported, got ${url.protocol}`);
  return text;
}

function parseDigest(text: string): string {
  if (!/^sha256:[0-9a-fA-F]{64}$/.test(text)) throw new InvalidArgumentError('expected sha256:<64 hex digits>');
  return text.toLowerCase();
}

interface CliOptions {
  url: string;
  output: string;
  node?: string[];
  manager?: string[];
  idc: string;
  location: string;
  dataMax: string;
  locallimit: number;
  totallimit: number;
  uploadLimit: number;
  header: Record<string, string>;
  digest?: string;
  identifier?: string;
  home: string;
  timeout: number;
  pattern: DownloadPattern;
  backSource: boolean;
  quiet: boolean;
  json: boolean;
  uploaderIdleExit: string;
  uploadHost: string;
}

export function buildProgram(): Command {
  return new Command('dfget')
    .description('Download a file through the small-dragonfly P2P network (supernode + peers).')
    .requiredOption('-u, --url <url>', 'URL of the file', parseUrl)
    .requiredOption('-o, --output <path>', 'where to save the file')
    .option('--node <host:port,...>', `supernodes in the order to try (default: the list stored in meta/, else 127.0.0.1:${DEFAULT_SUPERNODE_PORT})`, parseNodes)
    .option('--manager <url,...>', 'managing node(s) that assign this host its supernodes (instead of --node), e.g. http://10.0.0.9:8004',
      asArgument(parseManagerList))
    .addOption(new Option('--idc <name>', 'data centre of this host, told to the manager and the supernode (near sources first)').argParser(asArgument(checked(idcProblem))).default('', 'none'))
    .addOption(new Option('--location <a|b|c>', 'location of this host, widest level first, e.g. cn|hangzhou|rack-7 (told to the manager and the supernode)')
      .argParser(asArgument(checked(locationProblem))).default('', 'none'))
    .addOption(new Option('--data-max <size|N%>', 'size limit of <home>/data, kept by the uploader this run starts '
      + '(least recently used backups not being served go first)').argParser(asArgument(diskLimitText)).default('90%', '90% of its filesystem'))
    .addOption(new Option('--locallimit <rate>', 'download limit of this task, e.g. 10M, 100Mbit; 0 = unlimited')
      .argParser(asArgument(parseRate)).default(parseRate('10M'), '10M'))
    .addOption(new Option('--totallimit <rate>', 'limit of this node for download and upload (TX and RX); 0 = unlimited')
      .argParser(asArgument(parseRate)).default(0, '0'))
    .addOption(new Option('--upload-limit <rate>', 'limit of this node\'s uploads only (TX), declared to the scheduler as its upload rate; for uplinks slower than downlinks; 0 = --totallimit alone')
      .argParser(asArgument(parseRate)).default(0, '0'))
    .addOption(new Option('--header <"Name: value">', 'header for the source, e.g. Authorization (repeatable)')
      .argParser(parseHeader).default({}, 'none'))
    .option('--digest <sha256:hex>', 'expected SHA-256 of the whole file; a mismatch fails the download', parseDigest)
    .option('--identifier <id>', 'distinguishes tasks with the same URL')
    .option('--home <dir>', 'home dir for data, meta and logs', DEFAULT_HOME)
    .option('--timeout <duration>', 'give up after this long, e.g. 10min; 0 = never', asArgument(parseDurationMs), 0)
    .addOption(new Option('--pattern <pattern>', 'p2p: peers and supernode; cdn: supernode only; source: straight from the URL')
      .choices(['p2p', 'cdn', 'source']).default('p2p'))
    .option('--no-back-source', 'fail instead of downloading from the source when no supernode can be reached')
    .option('--quiet', 'no progress bar', false)
    .option('--json', 'print the result as JSON on stdout, with the settings the supernode gave (settings.origin says whether it did)', false)
    .addOption(new Option('--uploader-idle-exit <duration>', 'idle time before the background uploader exits').default('5min').hideHelp())
    .addOption(new Option('--upload-host <host>', 'host other peers dial for this node\'s uploader').default('127.0.0.1').hideHelp())
    .addHelpText('after', EXIT_HELP)
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(`dfget: ${text.replace(/^error: /, '')}`) });
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    program.parse(argv);
  } catch (err) {
    const code = (err as { exitCode?: number }).exitCode ?? EXIT_CODES.usage;
    return code === 0 ? 0 : EXIT_CODES.usage;
  }
  const opts = program.opts<CliOptions>();
  if (opts.node && opts.manager) {
    process.stderr.write('dfget: give --node or --manager, not both\n');
    return EXIT_CODES.usage;
  }
  const home = resolve(opts.home);
  const supernodes = opts.node ?? (opts.manager ? [] : await storedOrDefault(home));
  const abort = new AbortController();
  const onSignal = (): void => abort.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const bar = !opts.quiet && process.stderr.isTTY ? new ProgressBar(process.stderr) : null;
  const req: DownloadRequest = {
    url: opts.url, headers: opts.header, outputPath: resolve(opts.output), homeDir: home, supernodes,
    localLimitBytesPerSec: opts.locallimit, totalLimitBytesPerSec: opts.totallimit, uploadLimitBytesPerSec: opts.uploadLimit,
    ...(opts.digest ? { digest: opts.digest } : {}), ...(opts.identifier ? { identifier: opts.identifier } : {}),
    pattern: opts.pattern, backToSource: opts.backSource, timeoutMs: opts.timeout, signal: abort.signal, idc: opts.idc, location: opts.location,
    ...(bar ? { onProgress: (p) => bar.update(p) } : {}),
  };
  const tuning: SessionTuning = { uploaderIdleExit: opts.uploaderIdleExit, uploadHost: opts.uploadHost, dataMax: opts.dataMax };
  const once = async (r: DownloadRequest): Promise<DownloadResult> => (await DownloadSession.open(r, tuning)).run();
  try {
    const result = opts.manager ? await downloadViaManager(await managerClient(home, opts, opts.manager), req, once) : await once(req);
    bar?.update({ bytesDone: result.totalBytes, totalBytes: result.totalBytes, fromPeersBytes: result.fromPeersBytes, fromSupernodeBytes: result.fromSupernodeBytes }, true);
    bar?.finish();
    if (opts.json) process.stdout.write(`${JSON.stringify(result)}\n`);
    else if (!opts.quiet) process.stderr.write(`dfget: saved ${result.outputPath} in ${(result.elapsedMs / 1000).toFixed(1)} s\n`);
    return 0;
  } catch (err) {
    bar?.finish();
    const error = err instanceof DownloadError ? err : new DownloadError('internal', `internal error: ${(err as Error).stack ?? String(err)}`);
    process.stderr.write(`dfget: ${error.message}\n`);
    return error.exitCode;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** The seed's managing-node steps for this home: the answer is cached in its meta dir, log lines go to its log. */
async function managerClient(home: string, opts: CliOptions, managers: string[]): Promise<ManagerClient> {
  const layout = homeLayout(home);
  await prepareHome(layout).catch((err: Error) => { throw new DownloadError('io', err.message); });
  return new ManagerClient({ managers, idc: opts.idc, location: opts.location, metaDir: layout.metaDir, log: fileLogger(layout.logFile, `dfget[${process.pid}]`) });
}

async function storedOrDefault(home: string): Promise<string[]> {
  const stored = await readStoredSupernodes(homeLayout(home));
  return stored.length > 0 ? stored : [`127.0.0.1:${DEFAULT_SUPERNODE_PORT}`];
}

function checked(problemOf: (text: string) => string | null): (text: string) => string {
  return (text) => {
    const problem = problemOf(text);
    if (problem) throw new Error(problem);
    return text;
  };
}

/** `--data-max` as given, once it parses (the uploader it is passed to parses it again). */
function diskLimitText(text: string): string {
  const limit = parseDiskLimit(text, parseBytes);
  if (limit.kind === 'disk-limit-error') throw new Error(limit.message);
  return text.trim();
}
