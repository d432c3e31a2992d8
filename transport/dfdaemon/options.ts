/**
 * dfdaemon settings: command-line flags over an optional YAML file (`--config`). The file is also
 * where extra upstream registries live, each selected by the registry host clients put in front
 * of the repository (`/v2/<host>/<repo>/...`):
 *
 *   registry: https://registry.example:5000     # default upstream (same as --registry)
 *   cacert: /etc/ssl/private-ca.pem
 *   node: [10.0.0.1:8002, 10.0.0.2:8002]     # or manager: http://10.0.0.9:8004 (with idc:, location:)
 *   repo-max: 20GiB                          # and data-max: sizes or a share of the disk (90%)
 *   registries:
 *     - host: ghcr.example:443                  # first path segment clients send
 *       url: https://ghcr.example
 *       cacert: /etc/ssl/ghcr-ca.pem            # or insecure: true
 *
 * Every error names the flag or key and says what would be accepted.
 */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { DEFAULT_DISK_LIMIT, parseDiskLimit, type DiskLimit } from '../../core/eviction.ts';
import { idcProblem, locationProblem } from '../../core/manager-api.ts';
import { parseBytes, parseDurationMs, parseRate } from '../../core/units.ts';
import { parseManagerList } from '../manager/client.ts';
import { DEFAULT_SUPERNODE_PORT } from '../wire.ts';

export const DEFAULT_DFDAEMON_PORT = 65001;

export interface UpstreamConfig {
  /** Key in the route table: `default`, or the registry host clients name in the path. */
  key: string;
  /** `http(s)://host[:port]`, no path. */
  url: string;
  /** Accept any TLS certificate (testing only). */
  insecure: boolean;
  /** PEM file of a private CA that signed the registry's certificate. */
  caCertPath?: string;
}

export interface DfdaemonConfig {
  host: string;
  port: number;
  homeDir: string;
  localRepoDir: string;
  /** Supernodes to use; empty when they come from `managers`. */
  supernodes: string[];
  /** Managing nodes that assign this host its supernodes (`--manager`); empty = `supernodes`. */
  managers: string[];
  idc: string;
  location: string;
  /** Size limit of the local repo (`--repo-max`) and of `<home>/data` (`--data-max`). */
  repoLimit: DiskLimit;
  dataLimit: DiskLimit;
  defaultUpstream: UpstreamConfig | null;
  /** Upstreams chosen by a first path segment naming the registry host. */
  hostUpstreams: UpstreamConfig[];
  /** Pull a blob straight from the upstream when P2P fails. */
  fallback: boolean;
  localLimitBytesPerSec: number;
  totalLimitBytesPerSec: number;
  /** Longest a blob may take through P2P before dfdaemon gives up on it (0 = no limit). */
  blobTimeoutMs: number;
}

/** Flag values as commander hands them over (all strings, unset ones undefined). */
export interface CliValues {
  port?: string;
  host?: string;
  registry?: string;
  insecure?: boolean;
  cacert?: string;
  node?: string;
  localrepo?: string;
  home?: string;
  fallback?: boolean;
  locallimit?: string;
  totallimit?: string;
  timeout?: string;
  manager?: string;
  idc?: string;
  location?: string;
  repoMax?: string;
  dataMax?: string;
}

interface FileValues {
  port?: number;
  host?: string;
  registry?: string;
  insecure?: boolean;
  cacert?: string;
  node?: string[] | string;
  localrepo?: string;
  home?: string;
  fallback?: boolean;
  locallimit?: string | number;
  totallimit?: string | number;
  timeout?: string | number;
  manager?: string | string[];
  idc?: string;
  location?: string;
  'repo-max'?: string | number;
  'data-max'?: string | number;
  registries?: { host: string; url: string; insecure?: boolean; cacert?: string }[];
}

const FILE_KEYS = new Set(['port', 'host', 'registry', 'insecure', 'cacert', 'node', 'localrepo', 'home', 'fallback',
  'locallimit', 'totallimit', 'timeout', 'registries', 'manager', 'idc', 'location', 'repo-max', 'data-max']);

/** Merge flags over the YAML file's values (`fileText` is its content, `filePath` its name for errors). */
export function resolveConfig(cli: CliValues, fileText?: string, filePath = '--config'): DfdaemonConfig {
  const file = fileText === undefined ? {} : parseFile(fileText, filePath);
  const homeDir = resolve(cli.home ?? file.home ?? join(homedir(), '.small-dragonfly'));
  const portText = cli.port ?? (file.port === undefined ? undefined : String(file.port));
  const port = portText === undefined ? DEFAULT_DFDAEMON_PORT : Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be 0..65535, got "${portText}"`);
  const nodeList = cli.node ?? (Array.isArray(file.node) ? file.node.join(',') : file.node);
  const managerList = cli.manager ?? (Array.isArray(file.manager) ? file.manager.join(',') : file.manager);
  if (nodeList !== undefined && managerList !== undefined) throw new Error('give --node or --manager (node: or manager: in the file), not both');
  const managers = managerList === undefined ? [] : flagValue('--manager', managerList, (v) => parseManagerList(String(v)));
  const supernodes = managers.length > 0 ? [] : (nodeList ?? `127.0.0.1:${DEFAULT_SUPERNODE_PORT}`).split(',').map((s) => s.trim()).filter(Boolean);
  for (const addr of supernodes) {
    if (!/^[^\s/:]+:\d{1,5}$/.test(addr)) throw new Error(`--node takes host:port[,host:port...], got "${addr}"`);
  }
  const registry = cli.registry ?? file.registry;
  const defaultUpstream = registry === undefined ? null : upstream('default', registry, '--registry',
    cli.insecure ?? file.insecure ?? false, cli.cacert ?? file.cacert);
  const hostUpstreams = (file.registries ?? []).map((r, i) => {
    const where = `registries[${i}] in ${filePath}`;
    if (typeof r !== 'object' || r === null || typeof r.host !== 'string' || typeof r.url !== 'string') {
      throw new Error(`${where} needs host (as clients name it, e.g. registry.example:5000) and url`);
    }
    if (!/^[a-z0-9.-]+(:\d{1,5})?$/i.test(r.host) || !/[.:]|^localhost$/.test(r.host)) {
      throw new Error(`${where}: host "${r.host}" must look like a registry host (registry.example or 10.0.0.5:5000)`);
    }
    return upstream(r.host, r.url, where, r.insecure ?? false, r.cacert);
  });
  if (defaultUpstream === null && hostUpstreams.length === 0) {
    throw new Error('no upstream registry: pass --registry URL (e.g. --registry https://registry.example:5000) or list registries in --config');
  }
  return {
    host: cli.host ?? file.host ?? '127.0.0.1',
    port,
    homeDir,
    localRepoDir: resolve(cli.localrepo ?? file.localrepo ?? join(homeDir, 'dfdaemon', 'data')),
    supernodes,
    defaultUpstream,
    hostUpstreams,
    fallback: cli.fallback ?? file.fallback ?? true,
    localLimitBytesPerSec: flagValue('--locallimit', cli.locallimit ?? file.locallimit ?? 0, parseRate),
    totalLimitBytesPerSec: flagValue('--totallimit', cli.totallimit ?? file.totallimit ?? 0, parseRate),
    blobTimeoutMs: flagValue('--timeout', cli.timeout ?? file.timeout ?? '10min', parseDurationMs),
    managers,
    idc: flagValue('--idc', cli.idc ?? file.idc ?? '', (v) => checked(String(v), idcProblem)),
    location: flagValue('--location', cli.location ?? file.location ?? '', (v) => checked(String(v), locationProblem)),
    repoLimit: flagValue('--repo-max', cli.repoMax ?? file['repo-max'] ?? '', diskLimit),
    dataLimit: flagValue('--data-max', cli.dataMax ?? file['data-max'] ?? '', diskLimit),
  };
}

function checked(value: string, problemOf: (v: string) => string | null): string {
  const problem = problemOf(value);
  if (problem) throw new Error(problem);
  return value;
}

/** A size (`20GiB`) or a share of the filesystem (`90%`); empty = the default, 90 %. */
function diskLimit(value: string | number): DiskLimit {
  if (value === '') return DEFAULT_DISK_LIMIT;
  const limit = parseDiskLimit(String(value), parseBytes);
  if (limit.kind === 'disk-limit-error') throw new Error(limit.message);
  return limit;
}

function upstream(key: string, url: string, where: string, insecure: boolean, caCertPath?: string): UpstreamConfig {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`${where}: "${url}" is not a URL; write it like https://registry.example:5000`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error(`${where}: "${url}" must start with http:// or https://`);
  if (parsed.pathname !== '/' || parsed.search || parsed.username) {
    throw new Error(`${where}: "${url}" must be just scheme, host and port (no path, query or credentials)`);
  }
  if (caCertPath !== undefined && parsed.protocol !== 'https:') throw new Error(`${where}: a CA certificate only applies to an https:// registry`);
  return { key, url: parsed.origin, insecure, caCertPath: caCertPath === undefined ? undefined : resolve(caCertPath) };
}

function flagValue<T>(flag: string, value: string | number, parse: (v: string | number) => T): T {
  try {
    return parse(value);
  } catch (err) {
    throw new Error(`${flag}: ${(err as Error).message}`);
  }
}

function parseFile(text: string, filePath: string): FileValues {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new Error(`${filePath} is not valid YAML: ${(err as Error).message}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new Error(`${filePath} must be a YAML mapping of settings`);
  for (const key of Object.keys(doc)) {
    if (!FILE_KEYS.has(key)) throw new Error(`${filePath}: unknown setting "${key}" (known: ${[...FILE_KEYS].join(', ')})`);
  }
  const values = doc as FileValues;
  if (values.registries !== undefined && !Array.isArray(values.registries)) {
    throw new Error(`${filePath}: registries must be a list of {host, url, cacert?, insecure?}`);
  }
  return values;
}
