/**
 * `dfget`: download one URL through the P2P network.
 *
 *   dfget --url URL --output PATH [--node host:port[,host:port...]] [--locallimit 10M] ...
 *
 * Flags are checked before anything starts; a bad one exits with status 2 and says which. This
 * module loads only what checking flags and printing `--help` need (commander and a few small
 * modules); the download itself (cli-run.ts and everything it pulls in) is imported once the
 * flags are good. A bare `dfget --help` does not load even this module: bin/dfget.js prints the
 * help `npm run build` wrote from buildProgram (transport/cli-help.ts).
 *
 * Dragonfly's dfget spellings work as aliases: `--notbs` (= --no-back-source), `-s/--showbar`,
 * `--md5 <hex>`, `--callsystem <name>` (accepted, ignored), `--verbose`; a bare `--timeout` is
 * seconds, as Dragonfly's dfget reads it.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { parseDiskLimit } from '../../core/eviction.ts';
import { idcProblem, locationProblem } from '../../core/host-place.ts';
import { parseBytes, parseDurationMs, parseRate } from '../../core/units.ts';
import { withHelpWidth } from '../cli-help.ts';
import { parseManagerList } from '../manager/manager-list.ts';
import { EXIT_CODES } from './download-error.ts';
import type { DownloadPattern } from './download-request.ts';

/** The supernode port when `--node` names a host only (transport/wire.ts has the same). */
const DEFAULT_SUPERNODE_PORT = 8002;
const DEFAULT_HOME_TEXT = '~/.small-dragonfly';

const EXIT_HELP = `
Background uploader:
  The first dfget of a home dir starts an uploader process that stays after dfget exits: it
  serves the pieces this host holds to other peers (P2P works because finished hosts keep
  uploading) and keeps finished downloads registered with their supernodes. It exits by itself
  after --uploader-idle-exit (default 5min) with nothing to serve; later dfgets of the same home
  reuse it. Its log is logs/dfclient.log, its lock meta/uploader.lock (pid, port).

Exit codes:
  ${EXIT_CODES.ok}    the file is at --output and verified
  ${EXIT_CODES.internal}    internal error (a bug: please report it with logs/dfclient.log)
  ${EXIT_CODES.usage}    bad command-line flags
  ${EXIT_CODES['supernode-unreachable']}    no supernode could be reached and back-to-source was off, or (--manager) no
       manager answered and meta/ holds no supernode list
  ${EXIT_CODES['source-error']}    the source refused the file (404, 401/403 needs --header, ...)
  ${EXIT_CODES['digest-mismatch']}    the file does not match --digest or --md5
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

/** `sha256:<hex>`, or `md5:<hex>` (Dragonfly's digest kind; the same as `--md5 <hex>`). */
function parseDigest(text: string): string {
  if (!/^(sha256:[0-9a-fA-F]{64}|md5:[0-9a-fA-F]{32})$/.test(text)) throw new InvalidArgumentError('expected sha256:<64 hex digits> or md5:<32 hex digits>');
  return text.toLowerCase();
}

function parseMd5(text: string): string {
  if (!/^[0-9a-fA-F]{32}$/.test(text)) throw new InvalidArgumentError('expected the file\'s MD5 as 32 hex digits');
  return text.toLowerCase();
}

/**
 * Dragonfly's dfget reads a bare `--timeout` as seconds; a unit says otherwise (90s, 10min,
 * 1h 30min, 500ms). 0 = never.
 */
export function parseTimeoutMs(text: string): number {
  const trimmed = text.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed) === 0 ? 0 : parseDurationMs(`${trimmed}s`);
  return parseDurationMs(trimmed);
}

export interface CliOptions {
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
  md5?: string;
  identifier?: string;
  home?: string;
  timeout: number;
  pattern: DownloadPattern;
  backSource: boolean;
  notbs: boolean;
  quiet: boolean;
  showbar: boolean;
  verbose: boolean;
  callsystem?: string;
  json: boolean;
  uploaderIdleExit: string;
  uploadHost: string;
}

export function buildProgram(): Command {
  return withHelpWidth(new Command('dfget')
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
    .option('--digest <kind:hex>', 'expected digest of the whole file, sha256:<hex> or md5:<hex>; a mismatch fails the download', parseDigest)
    .option('-m, --md5 <hex>', 'expected MD5 of the whole file (Dragonfly\'s --md5; same as --digest md5:<hex>)', parseMd5)
    .option('--identifier <id>', 'distinguishes tasks with the same URL')
    .option('--home <dir>', `home dir for data, meta and logs (default: ${DEFAULT_HOME_TEXT})`)
    .option('--timeout <duration>', 'give up after this long: seconds, or with a unit (90s, 10min); 0 = never', asArgument(parseTimeoutMs), 0)
    .addOption(new Option('--pattern <pattern>', 'p2p: peers and supernode; cdn: supernode only; source: straight from the URL')
      .choices(['p2p', 'cdn', 'source']).default('p2p'))
    .option('--no-back-source', 'fail instead of downloading from the source when no supernode can be reached')
    .option('--notbs', 'the same as --no-back-source (Dragonfly\'s spelling)', false)
    .option('-s, --showbar', 'show the progress bar even when stderr is not a terminal', false)
    .option('--quiet', 'no progress bar and no closing line', false)
    .option('--verbose', 'also print the log (logs/dfclient.log) on stderr', false)
    .option('--callsystem <name>', 'accepted for Dragonfly compatibility and ignored (noted in the log)')
    .option('--json', 'print the result as JSON on stdout, with the settings the supernode gave (settings.origin says whether it did)', false)
    .option('--uploader-idle-exit <duration>', 'how long the background uploader waits with nothing to serve before it exits (see below)', '5min')
    .addOption(new Option('--upload-host <host>', 'host other peers dial for this node\'s uploader').default('127.0.0.1').hideHelp())
    .addHelpText('after', EXIT_HELP)
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(`dfget: ${text.replace(/^error: /, '')}`) }));
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
  const digest = opts.digest?.startsWith('md5:') ? undefined : opts.digest;
  const md5 = opts.md5 ?? (opts.digest?.startsWith('md5:') ? opts.digest.slice(4) : undefined);
  if (md5 !== undefined && opts.md5 !== undefined && opts.digest?.startsWith('md5:') && opts.digest.slice(4) !== opts.md5) {
    process.stderr.write('dfget: --md5 and --digest md5:... name different digests\n');
    return EXIT_CODES.usage;
  }
  const { runDownload } = await import('./cli-run.ts');
  return runDownload({ ...opts, digest, md5, backSource: opts.backSource && !opts.notbs });
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
