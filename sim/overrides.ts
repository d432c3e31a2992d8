/**
 * Command-line overrides of a scenario's common fields and of any core setting, each checked
 * and named by its flag so a bad value says which flag to fix.
 */
import { DEFAULT_CONFIG, makeConfig, type CoreConfig } from '../core/config.ts';
import { parseBytes, parseRate } from '../core/units.ts';
import { TCP_MODELS, type Scenario } from './scenario.ts';
import { ScenarioError } from './scenario-error.ts';

export interface CommonOverrides {
  seed?: string;
  hosts?: string;
  fileSize?: string;
  hostUp?: string;
  hostDown?: string;
  originUp?: string;
  supernodeUp?: string;
  localLimit?: string;
  totalLimit?: string;
  sharing?: string;
  declareTopology?: string;
  tcp?: string;
}

/** `piecesPerPull` -> `pieces-per-pull`: the flag spelling of each core setting. */
export function flagOf(setting: string): string {
  return setting.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

export const CORE_SETTINGS = Object.keys(DEFAULT_CONFIG) as (keyof CoreConfig)[];

function rateFlag(value: string, flag: string, allowUnlimited: boolean): number {
  let bps: number;
  try { bps = parseRate(value); } catch (err) { throw new ScenarioError(`--${flag}: ${(err as Error).message}`); }
  if (!allowUnlimited && bps <= 0) throw new ScenarioError(`--${flag}: a capacity must be above 0, got "${value}"`);
  return bps;
}

/** Parse one core setting given as text (flags, sweep grids); sizes allowed for pieceSizeBytes. */
export function coreValue(setting: keyof CoreConfig, text: string, flag: string): number | boolean {
  if (setting === 'backToSource') {
    if (text !== 'true' && text !== 'false') throw new ScenarioError(`${flag}: expected true or false, got "${text}"`);
    return text === 'true';
  }
  if (setting === 'pieceSizeBytes') {
    try { return parseBytes(text); } catch (err) { throw new ScenarioError(`${flag}: ${(err as Error).message}`); }
  }
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new ScenarioError(`${flag}: expected a whole number, got "${text}"`);
  return n;
}

/**
 * Refuse impossible core settings given as flags before any scenario is read or simulator code
 * is loaded (`--piece-size-bytes 3`, `--peer-up-limit 0`): the flags alone over the defaults
 * must make a valid config. Settings that clash with the scenario file's are caught by
 * applyOverrides.
 */
export function checkCoreFlags(core: Partial<Record<keyof CoreConfig, string>>): void {
  const values: Record<string, unknown> = {};
  for (const [setting, text] of Object.entries(core) as [keyof CoreConfig, string][]) {
    if (text !== undefined) values[setting] = coreValue(setting, text, `--${flagOf(setting)}`);
  }
  const cfg = makeConfig(values as Partial<CoreConfig>);
  if ('kind' in cfg) throw new ScenarioError(`--${flagOf(cfg.field)}: ${cfg.message}`);
}

export function applyOverrides(base: Scenario, common: CommonOverrides, core: Partial<Record<keyof CoreConfig, string>>): Scenario {
  const s: Scenario = { ...base, core: { ...base.core } };
  if (common.seed !== undefined) s.seed = common.seed;
  if (common.hosts !== undefined) {
    const n = Number(common.hosts);
    if (!Number.isInteger(n) || n < 1) throw new ScenarioError(`--hosts: expected a whole number >= 1, got "${common.hosts}"`);
    s.hostCount = n;
    s.faults = s.faults.filter((f) => !('hosts' in f) || !('indices' in f.hosts) || f.hosts.indices.every((h) => h < n))
      .map((f) => ('hosts' in f && 'count' in f.hosts && f.hosts.count > n ? { ...f, hosts: { count: n } } : f));
  }
  if (common.fileSize !== undefined) {
    try { s.fileSizeBytes = parseBytes(common.fileSize); } catch (err) { throw new ScenarioError(`--file-size: ${(err as Error).message}`); }
    if (s.fileSizeBytes < 1) throw new ScenarioError('--file-size: must be at least 1 byte');
  }
  if (common.hostUp !== undefined) s.hostUp = { kind: 'fixed', valueBps: rateFlag(common.hostUp, 'host-up', false) };
  if (common.hostDown !== undefined) s.hostDown = { kind: 'fixed', valueBps: rateFlag(common.hostDown, 'host-down', false) };
  if (common.originUp !== undefined) s.originUpBps = rateFlag(common.originUp, 'origin-up', false);
  if (common.supernodeUp !== undefined) s.supernodeUpBps = rateFlag(common.supernodeUp, 'supernode-up', false);
  if (common.localLimit !== undefined) s.localLimitBps = rateFlag(common.localLimit, 'local-limit', true);
  if (common.totalLimit !== undefined) s.totalLimitBps = rateFlag(common.totalLimit, 'total-limit', true);
  if (common.sharing !== undefined) {
    if (common.sharing !== 'local' && common.sharing !== 'max-min') throw new ScenarioError(`--sharing: expected local or max-min, got "${common.sharing}"`);
    s.sharing = common.sharing;
  }
  if (common.declareTopology !== undefined) {
    if (common.declareTopology !== 'true' && common.declareTopology !== 'false') {
      throw new ScenarioError(`--declare-topology: expected true or false, got "${common.declareTopology}"`);
    }
    s.topology = { ...s.topology, declared: common.declareTopology === 'true' };
  }
  if (common.tcp !== undefined) {
    const model = Object.hasOwn(TCP_MODELS, common.tcp) ? TCP_MODELS[common.tcp] : undefined;
    if (!model) throw new ScenarioError(`--tcp: expected ${Object.keys(TCP_MODELS).join(' or ')}, got "${common.tcp}"`);
    s.tcp = { ...model };
  }
  for (const [setting, text] of Object.entries(core) as [keyof CoreConfig, string][]) {
    if (text === undefined) continue;
    (s.core as Record<string, unknown>)[setting] = coreValue(setting, text, `--${flagOf(setting)}`);
  }
  const cfg = makeConfig(s.core);
  if ('kind' in cfg) throw new ScenarioError(`--${flagOf(cfg.field)}: ${cfg.message}`);
  return s;
}
