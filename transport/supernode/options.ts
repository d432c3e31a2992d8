/**
 * The supernode's settings: command-line flags over a `--config` YAML file over the defaults.
 * Scheduler settings use the core config's names (`--pieces-per-pull` / `piecesPerPull:`), so a
 * value tuned in the simulator's scenario file is pasted here unchanged. Sizes, rates and
 * durations take units (`--limit-out 100MB`, `--piece-timeout-ms 1min`).
 */
import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { DEFAULT_CONFIG, makeConfig, SETTING_HELP, type CoreConfig } from '../../core/config.ts';
import { DEFAULT_DISK_LIMIT, parseDiskLimit, type DiskLimit } from '../../core/eviction.ts';
import { idcProblem, locationProblem } from '../../core/manager-api.ts';
import { withHelpWidth } from '../cli-help.ts';
import { parseManagerList } from '../manager/client.ts';
import { parseBytes, parseDurationMs, parseRate } from '../../core/units.ts';
import { DEFAULT_SUPERNODE_PORT } from '../wire.ts';
import type { LogLevel } from './log.ts';

export interface SupernodeOptions {
  host: string;
  port: number;
  home: string;
  /** Address peers are told to fetch the supernode's pieces from (default: --host). */
  advertiseIp: string | null;
  limitInBytesPerSec: number;
  limitOutBytesPerSec: number;
  /** The upload rate of this supernode's link as the operator states it (`--upload-rate`; 0 = unknown). */
  uploadRateBytesPerSec: number;
  sourceTimeoutMs: number;
  seed: string | null;
  logLevel: LogLevel;
  core: CoreConfig;
  /** Managing nodes to announce this supernode to (base URLs); empty = none. */
  managers: string[];
  idc: string;
  location: string;
  /** Size limit of the CDN cache (`--cache-max`). */
  cacheLimit: DiskLimit;
  /** WebSocket connections allowed from one remote address (0 = no limit). */
  maxConnectionsPerAddress: number;
  /** Silence after which a socket is dropped (see connection-limits.ts; 0 = never). */
  idleTimeoutMs: number;
}

export const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS = 256;
export const DEFAULT_IDLE_TIMEOUT_MS = 120_000;

/** Bad flags or config: the message says what and how to fix it. */
export class UsageError extends Error {}

type Raw = Record<string, unknown>;

const TRANSPORT_KEYS = ['host', 'port', 'home', 'advertiseIp', 'limitIn', 'limitOut', 'uploadRate', 'sourceTimeout', 'cdnConcurrency', 'seed', 'logLevel',
  'manager', 'idc', 'location', 'cacheMax', 'maxConnectionsPerAddress', 'idleTimeout'];
const CORE_NUMBER_KEYS = (Object.keys(DEFAULT_CONFIG) as (keyof CoreConfig)[]).filter((key) => typeof DEFAULT_CONFIG[key] === 'number');
const LOG_LEVELS: LogLevel[] = ['debug', 'info', 'warn', 'error'];

export function kebab(camel: string): string {
  return camel.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function camel(name: string): string {
  return name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

export function buildCommand(): Command {
  const program = new Command('supernode')
    .description('small-dragonfly supernode: schedules peers, caches sources (CDN) and serves pieces as a special peer')
    .option('--host <addr>', 'address to listen on (default 127.0.0.1)')
    .option('--port <n>', `port for peers (control and data plane), /healthz and /metrics (default ${DEFAULT_SUPERNODE_PORT})`)
    .option('--home <dir>', 'home directory: cdn/ cache and logs/supernode.log (default ~/.small-dragonfly)')
    .option('--advertise-ip <addr>', 'address peers use to fetch pieces from this supernode (default: --host)')
    .option('--limit-in <rate>', 'cap on bytes/s read from sources, e.g. 200MB (0 = unlimited)')
    .option('--limit-out <rate>', 'cap on bytes/s of pieces served, e.g. 200MB (0 = unlimited)')
    .option('--upload-rate <rate>', 'upload rate of this supernode\'s link, e.g. 1Gbit; while peers can relay, the scheduler splits it '
      + 'between fewer uploads when they are nearly as fast, so new pieces leave quickly (default 0 = unknown: --supernode-up-limit uploads)')
    .option('--source-timeout <duration>', 'a source silent this long fails the request (default 30s)')
    .option('--cdn-concurrency <n>', 'same as --source-fetch-concurrency (kept for existing scripts)')
    .option('--config <file>', 'YAML file with any of these settings (flags win)')
    .option('--seed <seed>', 'seed for the scheduler\'s random choices (logged; replays tie-breaking)')
    .option('--log-level <level>', `one of ${LOG_LEVELS.join(', ')} (default info)`)
    .option('--manager <url,...>', 'managing node(s) to announce this supernode to, e.g. http://10.0.0.9:8004 (needs --advertise-ip when --host is 0.0.0.0)')
    .option('--idc <name>', 'data centre of this supernode, sent to the manager (hosts in the same IDC are sent here first)')
    .option('--location <a|b|c>', 'location of this supernode, widest level first, e.g. cn|hangzhou|rack-7 (sent to the manager)')
    .option('--cache-max <size|N%>', 'size limit of the CDN cache in <home>/cdn: a size (64GiB) or the highest use of its filesystem '
      + '(90%); past it the least recently used tasks not being fetched or downloaded are evicted (default 90%)')
    .option('--max-connections-per-address <n>', 'WebSocket connections (control and data) allowed from one address; the excess is closed '
      + `with 1013 and the reason; raise it for load tests on loopback; 0 = no limit (default ${DEFAULT_MAX_CONNECTIONS_PER_ADDRESS})`)
    .option('--idle-timeout <duration>', 'a socket silent this long before its HTTP request or WebSocket upgrade is dropped, and a WebSocket '
      + `that answers no ping for this long is closed; 0 = never (default ${DEFAULT_IDLE_TIMEOUT_MS / 1000}s)`);
  for (const key of CORE_NUMBER_KEYS) {
    program.option(`--${kebab(key)} <value>`, `${SETTING_HELP[key]} (setting ${key}, default ${DEFAULT_CONFIG[key] as number})`);
  }
  program.exitOverride().configureOutput({ writeErr: () => undefined, writeOut: (text) => process.stdout.write(text) });
  return withHelpWidth(program);
}

/** Parse argv (as given to node: [node, script, ...flags]); throws UsageError. */
export function parseOptions(argv: string[]): SupernodeOptions {
  const program = buildCommand();
  try {
    program.parse(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') throw err;
      throw new UsageError(`${err.message.replace(/^error: /, '')}; see supernode --help`);
    }
    throw err;
  }
  const flags = program.opts<Raw>();
  const fromFile = typeof flags.config === 'string' ? readConfigFile(flags.config) : {};
  const merged: Raw = { ...fromFile };
  for (const [key, value] of Object.entries(flags)) {
    if (key !== 'config') merged[key] = value;
  }
  return resolve(merged);
}

function readConfigFile(path: string): Raw {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read --config ${path}: ${(err as Error).message}`);
  }
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch (err) {
    throw new UsageError(`--config ${path} is not valid YAML: ${(err as Error).message}`);
  }
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new UsageError(`--config ${path} must be a mapping of setting: value`);
  const out: Raw = {};
  const known = new Set([...TRANSPORT_KEYS, ...CORE_NUMBER_KEYS]);
  for (const [rawKey, v] of Object.entries(value as Raw)) {
    const key = camel(rawKey);
    if (!known.has(key)) throw new UsageError(`--config ${path}: unknown setting "${rawKey}"; known: ${[...known].map(kebab).join(', ')}`);
    out[key] = typeof v === 'number' ? String(v) : v;
  }
  return out;
}

function resolve(raw: Raw): SupernodeOptions {
  const text = (key: string): string | undefined => (raw[key] === undefined || raw[key] === null ? undefined : String(raw[key]));
  const withUnits = <T>(key: string, parse: (s: string) => T, fallback: T): T => {
    const value = text(key);
    if (value === undefined) return fallback;
    try {
      return parse(value);
    } catch (err) {
      throw new UsageError(`--${kebab(key)}: ${(err as Error).message}`);
    }
  };
  const whole = (key: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number => withUnits(key, (s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`must be a whole number from ${min} to ${max}, got "${s}"`);
    return n;
  }, fallback);

  const overrides: Partial<CoreConfig> = {};
  aliasCdnConcurrency(raw);
  for (const key of CORE_NUMBER_KEYS) {
    const parse = key.endsWith('Ms') ? parseDurationMs : key.endsWith('Bytes') ? parseBytes : (s: string) => {
      const n = Number(s);
      if (!Number.isFinite(n)) throw new Error(`expected a number, got "${s}"`);
      return n;
    };
    const value = withUnits(key, parse, undefined);
    if (value !== undefined) (overrides as Record<string, number>)[key] = value;
  }
  const core = makeConfig(overrides);
  if ('kind' in core) throw new UsageError(`--${kebab(core.field)}: ${core.message}`);

  const logLevel = (text('logLevel') ?? 'info') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);
  return {
    host: text('host') ?? '127.0.0.1',
    port: whole('port', DEFAULT_SUPERNODE_PORT, 0, 65535),
    home: text('home') ?? join(homedir(), '.small-dragonfly'),
    advertiseIp: text('advertiseIp') ?? null,
    limitInBytesPerSec: withUnits('limitIn', parseRate, 0),
    limitOutBytesPerSec: withUnits('limitOut', parseRate, 0),
    uploadRateBytesPerSec: withUnits('uploadRate', parseRate, 0),
    sourceTimeoutMs: withUnits('sourceTimeout', parseDurationMs, 30_000),
    seed: text('seed') ?? null,
    logLevel,
    core,
    cacheLimit: withUnits('cacheMax', diskLimit, DEFAULT_DISK_LIMIT),
    maxConnectionsPerAddress: whole('maxConnectionsPerAddress', DEFAULT_MAX_CONNECTIONS_PER_ADDRESS, 0),
    idleTimeoutMs: withUnits('idleTimeout', parseDurationMs, DEFAULT_IDLE_TIMEOUT_MS),
    ...managerSettings(text('manager'), text('idc') ?? '', text('location') ?? '', text('advertiseIp') ?? text('host') ?? '127.0.0.1'),
  };
}

function diskLimit(text: string): DiskLimit {
  const limit = parseDiskLimit(text, parseBytes);
  if (limit.kind === 'disk-limit-error') throw new Error(limit.message);
  return limit;
}

/** `--manager`, `--idc`, `--location`, checked as the manager will check them. */
function managerSettings(managerList: string | undefined, idc: string, location: string, advertised: string): Pick<SupernodeOptions, 'managers' | 'idc' | 'location'> {
  const problem = idcProblem(idc) ?? locationProblem(location);
  if (problem) throw new UsageError(`--${problem.startsWith('idc') ? 'idc' : 'location'}: ${problem}`);
  let managers: string[] = [];
  try {
    if (managerList !== undefined) managers = parseManagerList(managerList);
  } catch (err) {
    throw new UsageError(`--manager: ${(err as Error).message}`);
  }
  if (managers.length > 0 && (advertised === '0.0.0.0' || advertised === '::')) {
    throw new UsageError(`--manager: peers cannot dial ${advertised}; set --advertise-ip to this host's address`);
  }
  return { managers, idc, location };
}

/**
 * `--cdn-concurrency` (and `cdn-concurrency:` in YAML) predates the core setting
 * `sourceFetchConcurrency`, which the simulated CDN follows too; it is the same setting.
 */
function aliasCdnConcurrency(raw: Raw): void {
  const alias = raw.cdnConcurrency;
  delete raw.cdnConcurrency;
  if (alias === undefined || alias === null) return;
  const setting = raw.sourceFetchConcurrency;
  if (setting !== undefined && setting !== null && String(setting) !== String(alias)) {
    throw new UsageError(`--cdn-concurrency ${String(alias)} and --source-fetch-concurrency ${String(setting)} disagree; they are the same setting, give one`);
  }
  raw.sourceFetchConcurrency = alias;
}
