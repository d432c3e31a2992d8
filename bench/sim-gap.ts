/**
 * Where one simulated run's time goes: runs `dragonfly` (or the strategy in STRATEGY) on a
 * scenario and prints its efficiency and the decomposition of the gap to T_min (sim/gap.ts) —
 * for the last host and the mean host: origin-bound, idle download, shared download, and the
 * same after the CDN held the whole file (tail) — and the unused upload of hosts, supernodes and
 * origin. The scale notebook gives the same columns for a whole sweep; this is one run, to look
 * at after changing the scheduler.
 *
 *   npm run bench:gap -- <scenario> <hosts> [setting=value ...]
 *   npm run bench:gap -- default 2000 pieceSizeBytes=2MiB piecesPerPull=4 peerDownLimit=4 peerUpLimit=4
 *   npm run bench:gap -- heterogeneous 200 pieceSizeBytes=4MiB piecesPerPull=8 peerDownLimit=8 peerUpLimit=6 supernodeCopiesPerPiece=0
 *
 * A bad setting exits 2 with its message, before anything runs.
 */
import type { CoreConfig } from '../core/config.ts';
import { GapMeter } from '../sim/gap.ts';
import { applyOverrides, checkCoreFlags } from '../sim/overrides.ts';
import { loadScenario, ScenarioError } from '../sim/scenario.ts';
import { isStrategy, runStrategy } from '../sim/strategies/index.ts';
import { buildWorld } from '../sim/world.ts';

const s = (ms: number): string => (ms / 1000).toFixed(3);

function main(args: string[]): void {
  const [scenarioName = 'default', hosts, ...pairs] = args;
  const core: Partial<Record<keyof CoreConfig, string>> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new ScenarioError(`expected setting=value, got "${pair}"`);
    core[pair.slice(0, at) as keyof CoreConfig] = pair.slice(at + 1);
  }
  checkCoreFlags(core);
  const strategy = process.env.STRATEGY ?? 'dragonfly';
  if (!isStrategy(strategy)) throw new ScenarioError(`STRATEGY: unknown strategy "${strategy}"`);
  const world = buildWorld(applyOverrides(loadScenario(scenarioName), hosts ? { hosts } : {}, core));
  const meter = new GapMeter(world.lowerBoundMs / 2000);
  const cpuBefore = process.cpuUsage();
  const r = runStrategy(strategy, world, meter.hooks());
  const cpu = process.cpuUsage(cpuBefore);
  const cpuS = (cpu.user + cpu.system) / 1e6;
  const g = meter.report();
  console.log(`${scenarioName}, ${world.scenario.hostCount} hosts, ${strategy} ${JSON.stringify(core)}: efficiency ${r.efficiency.toFixed(3)}, `
    + `last host ${s(r.completionMs.max)} s, p50 ${s(r.completionMs.p50)} s, ${r.events} events, ${cpuS.toFixed(1)} s CPU`);
  console.log(`T_min ${s(g.lowerBoundMs)} s; the CDN held the file at ${s(g.cdnCompleteMs)} s; the last host's own bound ${s(g.last.ownBoundMs)} s`);
  for (const [name, l] of [['last host', g.last], ['mean host', g.mean]] as const) {
    console.log(`${name}: origin-bound ${s(l.originBoundMs)} s, idle ${s(l.idleMs)} s, shared ${s(l.sharedMs)} s, `
      + `tail idle ${s(l.tailIdleMs)} s, tail shared ${s(l.tailSharedMs)} s`);
  }
  console.log(`sampling error (last host) ${s(g.last.unexplainedMs)} s; unused upload: hosts ${(100 * g.hostUploadIdleFraction).toFixed(1)} %, `
    + `supernodes ${(100 * g.supernodeUploadIdleFraction).toFixed(1)} %, origin ${(100 * g.originUploadIdleFraction).toFixed(1)} % (while the CDN fetched)`);
}

try {
  main(process.argv.slice(2));
} catch (err) {
  if (!(err instanceof ScenarioError)) throw err;
  console.error(`bench:gap: ${err.message}`);
  process.exitCode = 2;
}
