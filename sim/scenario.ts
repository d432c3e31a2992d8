/**
 * Scenario files: what is simulated, as YAML or JSON, checked field by field.
 *
 * Schema (every field optional except where noted; rates like "1Gbit", "25MB", 125000000;
 * sizes like "1GiB", "200MB"; "0" = unlimited for limits only):
 *
 *   name: default
 *   seed: 1                       # number or string; one seed replays the whole run
 *   fileSize: 1GiB                # required
 *   hosts:
 *     count: 200                  # required
 *     up: 1Gbit                   # a distribution: a rate (fixed),
 *     down: 1Gbit                 #   {choice: [{value: 1Gbit, weight: 3}, ...]} or {uniform: {min, max}}
 *   origin: { up: 1Gbit, down: 1Gbit, idc: 0 }         # the registry / HTTP source
 *   supernodes: { count: 1, up: 10Gbit, down: 10Gbit, idc: 0 }
 *   topology: { idcs: 1, racksPerIdc: 10, sameRackMs: 0.2, sameIdcMs: 0.5, crossIdcMs: 20, declared: true }
 *                                                      # declared: hosts tell the supernode their IDC and rack
 *   arrival: { pattern: all-at-once }                  # or {pattern: staggered, intervalMs: 50}
 *                                                      # or {pattern: poisson, ratePerSec: 20}
 *   limits: { localLimit: 0, totalLimit: 0 }           # per-task download limit, per-host RX/TX limit
 *   core: { piecesPerPull: 4, peerUpLimit: 5, ... }    # CoreConfig settings by name (core/config.ts)
 *   sharing: local                                     # or max-min (exact, small swarms only)
 *   # hosts: { ..., pieceOverheadMs: 0 }               # per piece a host spends besides moving bytes
 *   goodput: 1                                         # share of every link's rate that carries file bytes:
 *                                                      #   1 = rates are payload rates; 0.956 = rates are Ethernet
 *                                                      #   wire rates and TCP/IP headers take the rest (1448 of 1514)
 *   queues: { perFlowBytes: 0, limitMs: 0, limitMinBytes: 0 }
 *                                                      # FIFO queues on the links (0 = none): a small message waits
 *                                                      #   behind perFlowBytes per flow on the sender's uplink and the
 *                                                      #   receiver's downlink, up to limitMs of the rate (>= limitMinBytes)
 *   tcp: { connectRoundTrips: 0, initialWindowBytes: 0, restartAfterIdleMs: 0 }
 *                                                      # real connections (all 0 = ideal flows): round trips to open
 *                                                      #   a data connection (2: TCP + WebSocket), slow start from
 *                                                      #   this window (14480 = Linux's 10 segments), restarted after
 *                                                      #   this much idle (200 = Linux's tcp_slow_start_after_idle)
 *   bittorrent: { peersPerHost: 50, uploadSlots: 4, optimisticSlots: 1, rechokeMs: 10000, optimisticMs: 30000 }
 *   faults:                                            # hosts are picked by the seed unless listed
 *     - { kind: host-crash, count: 2, atMs: 3000 }     # or hosts: [3, 17]
 *     - { kind: corrupt-uploader, count: 2 }           # serves pieces whose digest does not match
 *     - { kind: lying-peer, count: 3 }                 # reports every fetch from a peer as failed
 *                                                      #   (after one true success, to look credible)
 *     - { kind: lying-reporter, count: 2 }             # reports every piece from a peer as corrupt
 *     - { kind: delete-cache, count: 1, atMs: 5000 }   # the peer's cached file vanishes
 *     - { kind: slow-peer, count: 1, up: 1MB, down: 1MB }
 *     - { kind: supernode-crash, supernode: 0, atMs: 4000 }
 *
 * Limits apply to every strategy alike, so strategies compare on the same hosts: the per-task
 * `localLimit` caps a host's download (one task per host in the simulator), `totalLimit` caps
 * both its upload and download. The seed's dfget default is localLimit 10MB/s; the shipped
 * scenarios set 0 so that the network, not a client setting, is what gets measured.
 */
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { dirname, join, extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { DEFAULT_CONFIG, makeConfig, type CoreConfig } from '../core/config.ts';
import { parseBytes, parseRate } from '../core/units.ts';
import { ScenarioError } from './scenario-error.ts';
import { DEFAULT_TOPOLOGY, type TopologySpec } from './topology.ts';

export type Distribution =
  | { kind: 'fixed'; valueBps: number }
  | { kind: 'choice'; options: { valueBps: number; weight: number }[] }
  | { kind: 'uniform'; minBps: number; maxBps: number };

export type Arrival =
  | { pattern: 'all-at-once' }
  | { pattern: 'staggered'; intervalMs: number }
  | { pattern: 'poisson'; ratePerSec: number };

export type Fault =
  | { kind: 'host-crash'; hosts: HostPick; atMs: number }
  | { kind: 'corrupt-uploader'; hosts: HostPick }
  | { kind: 'lying-peer'; hosts: HostPick }
  | { kind: 'lying-reporter'; hosts: HostPick }
  | { kind: 'delete-cache'; hosts: HostPick; atMs: number }
  | { kind: 'slow-peer'; hosts: HostPick; upBps: number; downBps: number }
  | { kind: 'supernode-crash'; supernode: number; atMs: number };

/** Explicit host indices, or how many the seed picks. */
export type HostPick = { indices: number[] } | { count: number };

export interface BittorrentSpec {
  peersPerHost: number;
  uploadSlots: number;
  optimisticSlots: number;
  rechokeMs: number;
  optimisticMs: number;
}

export interface Scenario {
  name: string;
  seed: string;
  fileSizeBytes: number;
  hostCount: number;
  hostUp: Distribution;
  hostDown: Distribution;
  originUpBps: number;
  originDownBps: number;
  originIdc: number;
  supernodeCount: number;
  supernodeUpBps: number;
  supernodeDownBps: number;
  supernodeIdc: number;
  topology: TopologySpec;
  arrival: Arrival;
  localLimitBps: number;
  totalLimitBps: number;
  core: Partial<CoreConfig>;
  sharing: 'local' | 'max-min';
  /**
   * Share of each link's rate (hosts, origin, supernodes) that carries file bytes; 1 when the
   * rates are payload rates, 1448/1514 when they are Ethernet wire rates (TCP/IP headers). Limits
   * (`localLimit`, `totalLimit`) count payload and are not scaled.
   */
  goodput: number;
  /**
   * What a host spends on each piece it downloads besides moving the bytes at its link's rate:
   * the time from the piece's last byte to the result reaching its core (verifying, writing,
   * telling its uploader, and the request's own round trips and TCP warm-up folded in). 0 = ideal
   * hosts; `npm run calibrate` measures it on real processes (its report's "per-piece overhead").
   */
  pieceOverheadMs: number;
  /** FIFO queues on the links (QueueModel); perFlowBytes 0 = none, the fluid model alone. */
  queues: QueueModel;
  /** What real TCP connections cost a piece (sim/strategies/dragonfly/connections.ts); all 0 = ideal flows. */
  tcp: TcpModel;
  bittorrent: BittorrentSpec;
  faults: Fault[];
}

/**
 * TCP as the dragonfly strategy's data plane meets it (connections.ts). All 0 (the default): a
 * flow starts at its full share one latency after the source serves it.
 */
export interface TcpModel {
  /** Round trips to open a requester's data connection to a new source (TCP handshake + WebSocket upgrade: 2). */
  connectRoundTrips: number;
  /** What a cold connection sends in its first round trip before slow start doubles it (Linux: 10 x 1448). */
  initialWindowBytes: number;
  /** Idle time that halves a connection's window, down to the initial one (Linux: one retransmission timeout, at least 200 ms); 0 = never. */
  restartAfterIdleMs: number;
}

/**
 * FIFO queues in front of every link, as the calibration testbed's shaped links have them: a small
 * packet (a control message, a piece request, a flow's first bytes) waits behind what the link's
 * flows keep queued, `perFlowBytes` each, up to the queue's limit (`limitMs` of the link's rate,
 * at least `limitMinBytes`), at the sender's uplink and again at the receiver's downlink.
 */
export interface QueueModel {
  perFlowBytes: number;
  limitMs: number;
  limitMinBytes: number;
}

export const NO_QUEUES: Readonly<QueueModel> = Object.freeze({ perFlowBytes: 0, limitMs: 0, limitMinBytes: 0 });

export const IDEAL_TCP: Readonly<TcpModel> = Object.freeze({ connectRoundTrips: 0, initialWindowBytes: 0, restartAfterIdleMs: 0 });

/** Linux's TCP as dfget meets it: TCP handshake + WebSocket upgrade, 10-segment initial window, slow start again after 200 ms idle. */
export const LINUX_TCP: Readonly<TcpModel> = Object.freeze({ connectRoundTrips: 2, initialWindowBytes: 10 * 1448, restartAfterIdleMs: 200 });

/** Whether `tcp` costs a piece anything (all 0: ideal flows). */
export function modelsTcp(tcp: TcpModel): boolean {
  return tcp.connectRoundTrips > 0 || tcp.initialWindowBytes > 0;
}

/** The named TCP models (`dfsim --tcp`). */
export const TCP_MODELS: Readonly<Record<string, Readonly<TcpModel>>> = Object.freeze({ ideal: IDEAL_TCP, linux: LINUX_TCP });

export { ScenarioError };

const SCENARIO_DIR = join(dirname(fileURLToPath(import.meta.url)), 'scenarios');

/** Names of the scenarios shipped in sim/scenarios. */
export function shippedScenarios(): string[] {
  return readdirSync(SCENARIO_DIR).filter((file) => file.endsWith('.yaml')).map((file) => file.slice(0, -'.yaml'.length)).sort();
}

/** Load a shipped scenario by name, or a YAML/JSON file by path. */
export function loadScenario(nameOrPath: string): Scenario {
  const shipped = join(SCENARIO_DIR, `${nameOrPath}.yaml`);
  const path = existsSync(shipped) ? shipped : nameOrPath;
  if (!existsSync(path)) {
    throw new ScenarioError(`no scenario "${nameOrPath}": not a file, and not one of ${shippedScenarios().join(', ')}`);
  }
  const text = readFileSync(path, 'utf8');
  let raw: unknown;
  try {
    raw = extname(path) === '.json' ? JSON.parse(text) : YAML.parse(text);
  } catch (err) {
    throw new ScenarioError(`${path}: not valid ${extname(path) === '.json' ? 'JSON' : 'YAML'}: ${(err as Error).message}`);
  }
  try {
    return parseScenario(raw);
  } catch (err) {
    if (err instanceof ScenarioError) throw new ScenarioError(`${path}: ${err.message}`);
    throw err;
  }
}

/** Check a parsed YAML/JSON document; errors name the bad field. */
export function parseScenario(raw: unknown): Scenario {
  const doc = object(raw, '(scenario)');
  known(doc, '', ['name', 'description', 'seed', 'fileSize', 'hosts', 'origin', 'supernodes', 'topology', 'arrival',
    'limits', 'core', 'sharing', 'goodput', 'queues', 'tcp', 'bittorrent', 'faults']);
  const hosts = object(doc.hosts, 'hosts');
  known(hosts, 'hosts.', ['count', 'up', 'down', 'pieceOverheadMs']);
  const origin = optionalObject(doc.origin, 'origin');
  known(origin, 'origin.', ['up', 'down', 'idc']);
  const supernodes = optionalObject(doc.supernodes, 'supernodes');
  known(supernodes, 'supernodes.', ['count', 'up', 'down', 'idc']);
  const topo = optionalObject(doc.topology, 'topology');
  known(topo, 'topology.', Object.keys(DEFAULT_TOPOLOGY));
  const limits = optionalObject(doc.limits, 'limits');
  known(limits, 'limits.', ['localLimit', 'totalLimit']);
  const tcp = optionalObject(doc.tcp, 'tcp');
  known(tcp, 'tcp.', Object.keys(IDEAL_TCP));
  const queues = optionalObject(doc.queues, 'queues');
  known(queues, 'queues.', Object.keys(NO_QUEUES));
  const bt = optionalObject(doc.bittorrent, 'bittorrent');
  known(bt, 'bittorrent.', ['peersPerHost', 'uploadSlots', 'optimisticSlots', 'rechokeMs', 'optimisticMs']);

  const topology: TopologySpec = {
    idcs: wholeNumber(topo.idcs ?? DEFAULT_TOPOLOGY.idcs, 'topology.idcs', 1),
    racksPerIdc: wholeNumber(topo.racksPerIdc ?? DEFAULT_TOPOLOGY.racksPerIdc, 'topology.racksPerIdc', 1),
    sameRackMs: nonNegative(topo.sameRackMs ?? DEFAULT_TOPOLOGY.sameRackMs, 'topology.sameRackMs'),
    sameIdcMs: nonNegative(topo.sameIdcMs ?? DEFAULT_TOPOLOGY.sameIdcMs, 'topology.sameIdcMs'),
    crossIdcMs: nonNegative(topo.crossIdcMs ?? DEFAULT_TOPOLOGY.crossIdcMs, 'topology.crossIdcMs'),
    declared: flag(topo.declared ?? DEFAULT_TOPOLOGY.declared, 'topology.declared'),
  };
  const hostCount = wholeNumber(hosts.count, 'hosts.count', 1);
  const supernodeCount = wholeNumber(supernodes.count ?? 1, 'supernodes.count', 1);
  const scenario: Scenario = {
    name: doc.name === undefined ? 'unnamed' : text(doc.name, 'name'),
    seed: doc.seed === undefined ? '1' : seedText(doc.seed),
    fileSizeBytes: size(doc.fileSize, 'fileSize'),
    hostCount,
    hostUp: distribution(hosts.up ?? '1Gbit', 'hosts.up'),
    hostDown: distribution(hosts.down ?? '1Gbit', 'hosts.down'),
    originUpBps: rate(origin.up ?? '1Gbit', 'origin.up'),
    originDownBps: rate(origin.down ?? '1Gbit', 'origin.down'),
    originIdc: idc(origin.idc ?? 0, 'origin.idc', topology),
    supernodeCount,
    supernodeUpBps: rate(supernodes.up ?? '10Gbit', 'supernodes.up'),
    supernodeDownBps: rate(supernodes.down ?? '10Gbit', 'supernodes.down'),
    supernodeIdc: idc(supernodes.idc ?? 0, 'supernodes.idc', topology),
    topology,
    arrival: arrival(doc.arrival),
    localLimitBps: limit(limits.localLimit ?? 0, 'limits.localLimit'),
    totalLimitBps: limit(limits.totalLimit ?? 0, 'limits.totalLimit'),
    core: coreSettings(doc.core),
    sharing: sharing(doc.sharing),
    goodput: goodput(doc.goodput),
    pieceOverheadMs: nonNegative(hosts.pieceOverheadMs ?? 0, 'hosts.pieceOverheadMs'),
    queues: {
      perFlowBytes: byteCount(queues.perFlowBytes, 'queues.perFlowBytes'),
      limitMs: nonNegative(queues.limitMs ?? 0, 'queues.limitMs'),
      limitMinBytes: byteCount(queues.limitMinBytes, 'queues.limitMinBytes'),
    },
    tcp: {
      connectRoundTrips: wholeNumber(tcp.connectRoundTrips ?? 0, 'tcp.connectRoundTrips', 0),
      initialWindowBytes: byteCount(tcp.initialWindowBytes, 'tcp.initialWindowBytes'),
      restartAfterIdleMs: nonNegative(tcp.restartAfterIdleMs ?? 0, 'tcp.restartAfterIdleMs'),
    },
    bittorrent: {
      peersPerHost: wholeNumber(bt.peersPerHost ?? 50, 'bittorrent.peersPerHost', 1),
      uploadSlots: wholeNumber(bt.uploadSlots ?? 4, 'bittorrent.uploadSlots', 1),
      optimisticSlots: wholeNumber(bt.optimisticSlots ?? 1, 'bittorrent.optimisticSlots', 0),
      rechokeMs: wholeNumber(bt.rechokeMs ?? 10_000, 'bittorrent.rechokeMs', 1),
      optimisticMs: wholeNumber(bt.optimisticMs ?? 30_000, 'bittorrent.optimisticMs', 1),
    },
    faults: [],
  };
  scenario.faults = faults(doc.faults, hostCount, supernodeCount);
  return scenario;
}

/** The scenario's core settings merged over the defaults (already checked by parseScenario). */
export function coreConfigOf(scenario: Scenario): CoreConfig {
  const cfg = makeConfig(scenario.core);
  if ('kind' in cfg) throw new ScenarioError(`core.${cfg.field}: ${cfg.message}`);
  return cfg;
}

// ---- field checkers: each names the field it rejects ----

type Doc = Record<string, unknown>;

function fail(field: string, expected: string, got: unknown): never {
  throw new ScenarioError(`${field}: expected ${expected}, got ${JSON.stringify(got) ?? String(got)}`);
}

function object(value: unknown, field: string): Doc {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(field, 'a mapping', value);
  return value as Doc;
}

function optionalObject(value: unknown, field: string): Doc {
  return value === undefined ? {} : object(value, field);
}

function known(doc: Doc, prefix: string, fields: string[]): void {
  for (const key of Object.keys(doc)) {
    if (!fields.includes(key)) throw new ScenarioError(`${prefix}${key}: unknown field (known: ${fields.join(', ')})`);
  }
}

function text(value: unknown, field: string): string {
  if (typeof value !== 'string' || value === '') fail(field, 'a non-empty string', value);
  return value;
}

function seedText(value: unknown): string {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return text(value, 'seed');
}

function wholeNumber(value: unknown, field: string, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) fail(field, `a whole number >= ${min}`, value);
  return value;
}

function nonNegative(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) fail(field, 'a number >= 0', value);
  return value;
}

function flag(value: unknown, field: string): boolean {
  if (typeof value !== 'boolean') fail(field, 'true or false', value);
  return value;
}

function size(value: unknown, field: string): number {
  if (typeof value !== 'string' && typeof value !== 'number') fail(field, 'a size like "1GiB"', value);
  let bytes: number;
  try { bytes = parseBytes(value); } catch { fail(field, 'a size like "1GiB"', value); }
  if (bytes < 1) fail(field, 'a size of at least 1 byte', value);
  return bytes;
}

/** An optional count of bytes: a size like "64KiB" or a whole number; absent, 0. */
function byteCount(value: unknown, field: string): number {
  return typeof value === 'string' ? size(value, field) : wholeNumber(value ?? 0, field, 0);
}

function limit(value: unknown, field: string): number {
  if (typeof value !== 'string' && typeof value !== 'number') fail(field, 'a rate like "10MB" or 0 for unlimited', value);
  try { return parseRate(value); } catch { fail(field, 'a rate like "10MB" or 0 for unlimited', value); }
}

function rate(value: unknown, field: string): number {
  if (typeof value !== 'string' && typeof value !== 'number') fail(field, 'a rate like "1Gbit"', value);
  let bps: number;
  try { bps = parseRate(value); } catch { fail(field, 'a rate like "1Gbit"', value); }
  if (bps <= 0) fail(field, 'a rate above 0 like "1Gbit" (capacities cannot be unlimited)', value);
  return bps;
}

function idc(value: unknown, field: string, topology: TopologySpec): number {
  const n = wholeNumber(value, field, 0);
  if (n >= topology.idcs) fail(field, `an IDC index below topology.idcs (${topology.idcs})`, value);
  return n;
}

function distribution(value: unknown, field: string): Distribution {
  if (typeof value === 'string' || typeof value === 'number') return { kind: 'fixed', valueBps: rate(value, field) };
  const doc = object(value, field);
  if ('choice' in doc) {
    known(doc, `${field}.`, ['choice']);
    if (!Array.isArray(doc.choice) || doc.choice.length === 0) fail(`${field}.choice`, 'a non-empty list of {value, weight}', doc.choice);
    const options = doc.choice.map((option, i) => {
      const o = object(option, `${field}.choice[${i}]`);
      known(o, `${field}.choice[${i}].`, ['value', 'weight']);
      return { valueBps: rate(o.value, `${field}.choice[${i}].value`), weight: nonNegative(o.weight ?? 1, `${field}.choice[${i}].weight`) };
    });
    if (options.every((o) => o.weight === 0)) fail(`${field}.choice`, 'at least one weight above 0', doc.choice);
    return { kind: 'choice', options };
  }
  if ('uniform' in doc) {
    known(doc, `${field}.`, ['uniform']);
    const u = object(doc.uniform, `${field}.uniform`);
    known(u, `${field}.uniform.`, ['min', 'max']);
    const minBps = rate(u.min, `${field}.uniform.min`);
    const maxBps = rate(u.max, `${field}.uniform.max`);
    if (maxBps < minBps) fail(`${field}.uniform.max`, `a rate >= min (${u.min})`, u.max);
    return { kind: 'uniform', minBps, maxBps };
  }
  return fail(field, 'a rate like "1Gbit", {choice: [...]} or {uniform: {min, max}}', value);
}

function arrival(value: unknown): Arrival {
  if (value === undefined) return { pattern: 'all-at-once' };
  const doc = object(value, 'arrival');
  switch (doc.pattern) {
    case 'all-at-once':
      known(doc, 'arrival.', ['pattern']);
      return { pattern: 'all-at-once' };
    case 'staggered':
      known(doc, 'arrival.', ['pattern', 'intervalMs']);
      return { pattern: 'staggered', intervalMs: nonNegative(doc.intervalMs, 'arrival.intervalMs') };
    case 'poisson': {
      known(doc, 'arrival.', ['pattern', 'ratePerSec']);
      const ratePerSec = nonNegative(doc.ratePerSec, 'arrival.ratePerSec');
      if (ratePerSec === 0) fail('arrival.ratePerSec', 'a rate above 0 (hosts per second)', doc.ratePerSec);
      return { pattern: 'poisson', ratePerSec };
    }
    default:
      return fail('arrival.pattern', 'one of all-at-once, staggered, poisson', doc.pattern);
  }
}

function sharing(value: unknown): 'local' | 'max-min' {
  if (value === undefined) return 'local';
  if (value !== 'local' && value !== 'max-min') fail('sharing', 'local or max-min', value);
  return value;
}

function goodput(value: unknown): number {
  if (value === undefined) return 1;
  if (typeof value !== 'number' || !(value > 0 && value <= 1)) fail('goodput', 'a number in (0, 1], e.g. 0.956 for Ethernet wire rates', value);
  return value;
}

function coreSettings(value: unknown): Partial<CoreConfig> {
  const doc = optionalObject(value, 'core');
  const settings: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(doc)) {
    if (!(key in DEFAULT_CONFIG)) throw new ScenarioError(`core.${key}: unknown setting (known: ${Object.keys(DEFAULT_CONFIG).join(', ')})`);
    settings[key] = key === 'pieceSizeBytes' && typeof v === 'string' ? size(v, `core.${key}`) : v;
  }
  const cfg = makeConfig(settings as Partial<CoreConfig>);
  if ('kind' in cfg) throw new ScenarioError(`core.${cfg.field}: ${cfg.message}`);
  return settings as Partial<CoreConfig>;
}

function hostPick(doc: Doc, field: string, hostCount: number): HostPick {
  if (doc.hosts !== undefined) {
    if (!Array.isArray(doc.hosts)) fail(`${field}.hosts`, 'a list of host indices', doc.hosts);
    return { indices: doc.hosts.map((h, i) => {
      const n = wholeNumber(h, `${field}.hosts[${i}]`, 0);
      if (n >= hostCount) fail(`${field}.hosts[${i}]`, `a host index below hosts.count (${hostCount})`, h);
      return n;
    }) };
  }
  const count = wholeNumber(doc.count ?? 1, `${field}.count`, 1);
  if (count > hostCount) fail(`${field}.count`, `at most hosts.count (${hostCount})`, doc.count);
  return { count };
}

function faults(value: unknown, hostCount: number, supernodeCount: number): Fault[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) fail('faults', 'a list', value);
  return value.map((item, i): Fault => {
    const field = `faults[${i}]`;
    const doc = object(item, field);
    switch (doc.kind) {
      case 'host-crash':
        known(doc, `${field}.`, ['kind', 'hosts', 'count', 'atMs']);
        return { kind: 'host-crash', hosts: hostPick(doc, field, hostCount), atMs: nonNegative(doc.atMs, `${field}.atMs`) };
      case 'corrupt-uploader':
        known(doc, `${field}.`, ['kind', 'hosts', 'count']);
        return { kind: 'corrupt-uploader', hosts: hostPick(doc, field, hostCount) };
      case 'lying-peer':
        known(doc, `${field}.`, ['kind', 'hosts', 'count']);
        return { kind: 'lying-peer', hosts: hostPick(doc, field, hostCount) };
      case 'lying-reporter':
        known(doc, `${field}.`, ['kind', 'hosts', 'count']);
        return { kind: 'lying-reporter', hosts: hostPick(doc, field, hostCount) };
      case 'delete-cache':
        known(doc, `${field}.`, ['kind', 'hosts', 'count', 'atMs']);
        return { kind: 'delete-cache', hosts: hostPick(doc, field, hostCount), atMs: nonNegative(doc.atMs, `${field}.atMs`) };
      case 'slow-peer':
        known(doc, `${field}.`, ['kind', 'hosts', 'count', 'up', 'down']);
        return { kind: 'slow-peer', hosts: hostPick(doc, field, hostCount), upBps: rate(doc.up, `${field}.up`), downBps: rate(doc.down, `${field}.down`) };
      case 'supernode-crash': {
        known(doc, `${field}.`, ['kind', 'supernode', 'atMs']);
        const supernode = wholeNumber(doc.supernode ?? 0, `${field}.supernode`, 0);
        if (supernode >= supernodeCount) fail(`${field}.supernode`, `a supernode index below supernodes.count (${supernodeCount})`, doc.supernode);
        return { kind: 'supernode-crash', supernode, atMs: nonNegative(doc.atMs, `${field}.atMs`) };
      }
      default:
        return fail(`${field}.kind`, 'one of host-crash, corrupt-uploader, lying-peer, lying-reporter, delete-cache, slow-peer, supernode-crash', doc.kind);
    }
  });
}
