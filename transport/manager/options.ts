/**
 * The managing node's flags. Durations take units (`--ttl 30s`); every value is bounded so a
 * typo cannot make the table unbounded or the lease zero.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_MANAGER_PORT, MANAGER_LIMITS } from '../../core/manager-api.ts';
import { parseDurationMs } from '../../core/units.ts';

export type ManagerLogLevel = 'debug' | 'info' | 'warn' | 'error';
const LOG_LEVELS: ManagerLogLevel[] = ['debug', 'info', 'warn', 'error'];

export interface ManagerOptions {
  host: string;
  port: number;
  /** A supernode that has not announced itself for this long is dropped. */
  ttlMs: number;
  maxSupernodes: number;
  logLevel: ManagerLogLevel;
}

/** Bad flags: the message says what and how to fix it. */
export class UsageError extends Error {}

const MIN_TTL_MS = 1000;

const HELP_AFTER = `
API (JSON over HTTP):
  POST   /v1/supernodes              a supernode announces itself, and again as its heartbeat:
                                     {"address":"10.0.0.1:8002","idc":"hz-1","location":"cn|hz|r7","load":12}
                                     -> {"ttlMs":30000,"heartbeatIntervalMs":10000}
  DELETE /v1/supernodes/<host:port>  a supernode leaving
  GET    /v1/supernodes?idc=&location=
                                     the most suitable supernode for a host and every other one:
                                     -> {"assigned":"10.0.0.1:8002","supernodes":[{"address":...,"idc":...,"location":...},...]}
  GET    /healthz, /metrics
Suitability: same IDC first, then the longest common location prefix (levels joined by "|",
widest first), then lighter load, then round robin. Start supernodes with
  supernode --manager http://<this host>:<port> --idc <name> --location <a|b|c> --advertise-ip <their address>`;

function whole(min: number, max: number): (text: string) => number {
  return (text) => {
    const n = Number(text);
    if (!/^\d+$/.test(text.trim()) || n < min || n > max) throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}, got "${text}"`);
    return n;
  };
}

function duration(min: number, max: number): (text: string) => number {
  return (text) => {
    let ms: number;
    try {
      ms = parseDurationMs(text);
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message);
    }
    if (ms < min || ms > max) throw new InvalidArgumentError(`must be from ${min / 1000} s to ${max / 3_600_000} h, got "${text}"`);
    return ms;
  };
}

export function buildCommand(): Command {
  return new Command('manager')
    .description('small-dragonfly managing node: knows the live supernodes and their IDC and location, '
      + 'and tells each host which supernode suits it best plus every other one')
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .addOption(new Option('--port <n>', 'port of the HTTP API, /healthz and /metrics').argParser(whole(0, 65535)).default(DEFAULT_MANAGER_PORT))
    .addOption(new Option('--ttl <duration>', 'drop a supernode that has not announced itself for this long (it announces every third of it)')
      .argParser(duration(MIN_TTL_MS, MANAGER_LIMITS.ttlMs)).default(30_000, '30s'))
    .addOption(new Option('--max-supernodes <n>', 'largest number of supernodes listed; announcements from more are refused with 503')
      .argParser(whole(1, 100_000)).default(MANAGER_LIMITS.supernodes))
    .addOption(new Option('--log-level <level>', 'log lines below this level are not written (to stderr)').choices(LOG_LEVELS).default('info'))
    .addHelpText('after', HELP_AFTER)
    .exitOverride()
    .configureOutput({ writeErr: () => undefined, writeOut: (text) => process.stdout.write(text) });
}

/** Parse argv (as given to node: [node, script, ...flags]); throws UsageError, or CommanderError for --help. */
export function parseOptions(argv: string[]): ManagerOptions {
  const program = buildCommand();
  try {
    program.parse(argv);
  } catch (err) {
    if (err instanceof CommanderError && (err.code === 'commander.helpDisplayed' || err.code === 'commander.version')) throw err;
    if (err instanceof CommanderError) throw new UsageError(`${err.message.replace(/^error: /, '')}; see manager --help`);
    throw err;
  }
  const flags = program.opts<{ host: string; port: number; ttl: number; maxSupernodes: number; logLevel: ManagerLogLevel }>();
  return { host: flags.host, port: flags.port, ttlMs: flags.ttl, maxSupernodes: flags.maxSupernodes, logLevel: flags.logLevel };
}
