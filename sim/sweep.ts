/**
 * `dfsim sweep`: one strategy over the cartesian product of core settings, spread over worker
 * threads (one per core by default), each point a full run on the same scenario and seed.
 * Writes sweep.csv (one row per point) and heatmap.svg (efficiency; rows = first axis,
 * columns = the other axes joined).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { SIM_YOUNG_GENERATION_MB } from './heap.ts';
import { stringify } from 'csv-stringify/sync';
import type { CoreConfig } from '../core/config.ts';
import { makeConfig } from '../core/config.ts';
import { coreValue, CORE_SETTINGS } from './overrides.ts';
import type { Scenario } from './scenario.ts';
import { ScenarioError } from './scenario-error.ts';
import type { StrategyName } from './strategies/index.ts';

/**
 * Built JavaScript (dist/, what `dfsim` runs) starts the worker from its compiled file. Under tsx
 * (development, tests) Node 20 loads a worker's entry file before `--import tsx` hooks apply, so
 * a .ts entry fails with ERR_UNKNOWN_FILE_EXTENSION; the worker instead boots from a script that
 * registers tsx and then imports the TypeScript worker.
 */
const COMPILED = !import.meta.url.endsWith('.ts');
const WORKER_BOOT = COMPILED
  ? `import(${JSON.stringify(new URL('./sweep-worker.js', import.meta.url).href)})`
  : `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))})`
    + `.then((tsx) => { tsx.register(); return import(${JSON.stringify(new URL('./sweep-worker.ts', import.meta.url).href)}); })`;

export interface SweepPoint {
  settings: Record<string, string>;
  efficiency: number;
  maxMs: number;
  p50Ms: number;
  lowerBoundMs: number;
  originCopies: number;
  completedHosts: number;
  wallMs: number;
}

export interface SweepJob { scenario: Scenario; strategy: StrategyName; settings: Record<string, string> }

export interface SweepOptions {
  scenarioName: string;
  scenario: Scenario;
  strategy: StrategyName;
  /** Axes like "piecesPerPull=2,4,8". */
  grid: string[];
  outDir?: string;
  workers?: number;
  log?: (line: string) => void;
  /** Run only the grid points this accepts (e.g. equal upload and download slots). */
  filter?: (settings: Record<string, string>) => boolean;
}

export function parseGrid(grid: string[]): { name: keyof CoreConfig; values: string[] }[] {
  return grid.map((axis) => {
    const match = /^([A-Za-z]+)=(.+)$/.exec(axis);
    if (!match) throw new ScenarioError(`--grid: expected name=v1,v2,..., got "${axis}"`);
    const name = match[1] as keyof CoreConfig;
    if (!CORE_SETTINGS.includes(name)) throw new ScenarioError(`--grid: unknown core setting "${match[1]}" (known: ${CORE_SETTINGS.join(', ')})`);
    const values = match[2].split(',').map((v) => v.trim()).filter((v) => v !== '');
    for (const v of values) coreValue(name, v, `--grid ${name}`);
    return { name, values };
  });
}

/** Every point of the grid as flag text (name -> value), without a scenario. */
export function gridFlags(grid: string[]): Record<string, string>[] {
  let points: Record<string, string>[] = [{}];
  for (const axis of parseGrid(grid)) points = points.flatMap((p) => axis.values.map((v) => ({ ...p, [axis.name]: v })));
  return points;
}

/** Every point of the grid as core overrides, checked before any worker starts. */
export function gridPoints(base: Scenario, grid: string[]): { settings: Record<string, string>; scenario: Scenario }[] {
  return gridFlags(grid).map((settings) => {
    const core: Record<string, unknown> = { ...base.core };
    for (const [name, text] of Object.entries(settings)) core[name] = coreValue(name as keyof CoreConfig, text, `--grid ${name}`);
    const cfg = makeConfig(core as Partial<CoreConfig>);
    if ('kind' in cfg) throw new ScenarioError(`--grid ${JSON.stringify(settings)}: ${cfg.field}: ${cfg.message}`);
    return { settings, scenario: { ...base, core: core as Partial<CoreConfig> } };
  });
}

export async function runSweep(opts: SweepOptions): Promise<SweepPoint[]> {
  const points = gridPoints(opts.scenario, opts.grid).filter((p) => !opts.filter || opts.filter(p.settings));
  const workerCount = Math.max(1, Math.min(opts.workers ?? availableParallelism(), points.length));
  opts.log?.(`dfsim sweep: ${points.length} points of ${opts.strategy} on ${opts.scenario.name} (seed ${opts.scenario.seed}) over ${workerCount} workers`);
  const results: SweepPoint[] = new Array(points.length);
  let next = 0;
  let finished = 0;
  await Promise.all(Array.from({ length: workerCount }, () => new Promise<void>((resolve, reject) => {
    const worker = new Worker(WORKER_BOOT, { eval: true, resourceLimits: { maxYoungGenerationSizeMb: SIM_YOUNG_GENERATION_MB } });
    let current = -1;
    const feed = () => {
      if (next >= points.length) {
        void worker.terminate().then(() => resolve());
        return;
      }
      current = next++;
      const job: SweepJob = { scenario: points[current].scenario, strategy: opts.strategy, settings: points[current].settings };
      worker.postMessage(job);
    };
    worker.on('message', (point: SweepPoint) => {
      results[current] = point;
      finished++;
      opts.log?.(`  [${finished}/${points.length}] ${JSON.stringify(point.settings)} efficiency ${point.efficiency.toFixed(3)}`);
      feed();
    });
    worker.on('error', reject);
    feed();
  })));
  if (opts.outDir) await writeSweep(opts.outDir, opts, results);
  return results;
}

async function writeSweep(dir: string, opts: SweepOptions, rows: SweepPoint[]): Promise<void> {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'sweep.csv'), stringify(rows.map((r) => ({
    ...r.settings, efficiency: r.efficiency.toFixed(4), maxMs: r.maxMs.toFixed(1), p50Ms: r.p50Ms.toFixed(1),
    lowerBoundMs: r.lowerBoundMs.toFixed(1), originCopies: r.originCopies.toFixed(3), completedHosts: r.completedHosts,
    wallMs: r.wallMs.toFixed(0),
  })), { header: true }));
  const axes = parseGrid(opts.grid).map((a) => a.name);
  const { heatmap } = await import('./charts.ts');
  writeFileSync(join(dir, 'heatmap.svg'), heatmap(
    `${opts.strategy} efficiency on ${opts.scenario.name} (seed ${opts.scenario.seed})`, axes[0],
    axes.slice(1).join(' / ') || '(single axis)',
    rows.map((r) => ({
      row: `${axes[0]}=${r.settings[axes[0]]}`,
      column: axes.slice(1).map((a) => `${a}=${r.settings[a]}`).join(' ') || 'all',
      value: r.efficiency,
    }))));
}
