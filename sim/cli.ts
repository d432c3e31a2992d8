/**
 * dfsim: run the core over a simulated network and compare strategies.
 *
 *   dfsim run [scenario] [--strategy a,b] [--seed N] [--hosts N] [--file-size 1GiB] ... [--time-limit 2h] [--out DIR] [--json]
 *   dfsim bound [scenario] ...                     prints the fluid lower bound T_min
 *   dfsim sweep [scenario] --grid piecesPerPull=2,4,8 peerUpLimit=5,8 ...
 *
 * A scenario is a name from sim/scenarios (default, heterogeneous, staggered, faults, seed-2016)
 * or a path to a YAML/JSON file (schema in sim/scenario.ts). Every run prints its seed; a run that
 * breaks an oracle (sim/checks.ts) prints the seed and the command that replays it, and exits 1.
 * A bad flag or scenario field exits 2 at once, before the simulator is even loaded. A run longer
 * than a few seconds shows its progress on stderr (sim/progress.ts). A run that reaches its
 * simulated-time limit stops and says so, naming --time-limit.
 */
import { Command, Option } from 'commander';
import { DEFAULT_CONFIG, SETTING_HELP, type CoreConfig } from '../core/config.ts';
import { formatDurationMs, parseDurationMs } from '../core/units.ts';
import { checkCoreFlags, CORE_SETTINGS, flagOf, type CommonOverrides } from './overrides.ts';
import { ScenarioError } from './scenario-error.ts';
import type { Scenario } from './scenario.ts';
import { STRATEGY_NAMES } from './strategy-names.ts';


type ScenarioOptions = CommonOverrides & Partial<Record<keyof CoreConfig, string>>;

function addScenarioOptions(cmd: Command): Command {
  cmd
    .option('--seed <seed>', 'seed (number or text); replays a run exactly')
    .option('--hosts <n>', 'number of hosts')
    .option('--file-size <size>', 'file size, e.g. 1GiB, 200MB')
    .option('--host-up <rate>', 'every host\'s upload capacity, e.g. 1Gbit, 25MB')
    .option('--host-down <rate>', 'every host\'s download capacity')
    .option('--origin-up <rate>', 'origin (registry) egress capacity')
    .option('--supernode-up <rate>', 'each supernode\'s upload capacity')
    .option('--local-limit <rate>', 'per-task download limit on hosts (0 = unlimited; the seed\'s dfget uses 10MB)')
    .option('--total-limit <rate>', 'per-host RX and TX limit (0 = unlimited)')
    .option('--sharing <rule>', 'bandwidth sharing: local (scales) or max-min (exact, small swarms)')
    .option('--declare-topology <bool>', 'hosts tell the supernode their IDC and rack (true, the default) or not (false)')
    .option('--tcp <model>', 'what a data connection costs a piece: ideal (flows at full rate at once) or linux (2 round trips to open, slow start from 10 segments, the window halved per 200 ms idle; dragonfly and cdn-only only); default: the scenario\'s tcp: block');
  for (const setting of CORE_SETTINGS) cmd.addOption(new Option(`--${flagOf(setting)} <value>`, `${SETTING_HELP[setting]} (setting ${setting}, default ${String(DEFAULT_CONFIG[setting])})`));
  return cmd;
}

function coreFlags(opts: ScenarioOptions): Partial<Record<keyof CoreConfig, string>> {
  const core: Partial<Record<keyof CoreConfig, string>> = {};
  for (const setting of CORE_SETTINGS) if (opts[setting] !== undefined) core[setting] = opts[setting];
  return core;
}

async function scenarioFrom(name: string, opts: ScenarioOptions): Promise<Scenario> {
  checkCoreFlags(coreFlags(opts));
  const { loadScenario } = await import('./scenario.ts');
  const { applyOverrides } = await import('./overrides.ts');
  return applyOverrides(loadScenario(name), opts, coreFlags(opts));
}

function parseStrategies(text: string): string[] {
  const names = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const name of names) {
    if (!STRATEGY_NAMES.includes(name)) throw new ScenarioError(`--strategy: unknown strategy "${name}" (known: ${STRATEGY_NAMES.join(', ')})`);
  }
  if (names.length === 0) throw new ScenarioError(`--strategy: name at least one of ${STRATEGY_NAMES.join(', ')}`);
  return names;
}

function parseTimeLimit(text: string | undefined): number | null {
  if (text === undefined || text === 'auto') return null;
  let ms: number;
  try { ms = parseDurationMs(text); } catch (err) { throw new ScenarioError(`--time-limit: ${(err as Error).message}`); }
  if (!(ms > 0)) throw new ScenarioError(`--time-limit: must be above 0 (simulated time, e.g. 10min), got "${text}"`);
  return ms;
}

function rerunCommand(scenarioName: string, seed: string, strategy: string): string {
  const kept: string[] = [];
  const args = process.argv.slice(3);
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--seed' || args[i] === '--strategy' || args[i] === '--out') { i++; continue; }
    if (args[i] === scenarioName || args[i] === '--json') continue;
    kept.push(args[i]);
  }
  return ['dfsim run', scenarioName, '--seed', seed, '--strategy', strategy, ...kept].join(' ');
}

type RunOptions = ScenarioOptions & { strategy: string; timeLimit?: string; out?: string; json?: boolean };

async function run(scenarioName: string, opts: RunOptions): Promise<number> {
  const strategies = parseStrategies(opts.strategy);
  const userLimitMs = parseTimeLimit(opts.timeLimit);
  const scenario = await scenarioFrom(scenarioName, opts);
  const [{ buildWorld }, { defaultTimeLimitMs }, { isStrategy, runStrategy }, { failureReport }, { formatTable, summaryOf, writeOutputs }, { ProgressPrinter }] = await Promise.all([
    import('./world.ts'), import('./engine.ts'), import('./strategies/index.ts'), import('./checks.ts'), import('./outputs.ts'), import('./progress.ts'),
  ]);
  const world = buildWorld(scenario);
  const timeLimitMs = userLimitMs ?? defaultTimeLimitMs(world);
  console.error(`dfsim: scenario ${scenario.name}, seed ${scenario.seed}, ${scenario.hostCount} hosts, strategies ${strategies.join(', ')}`
    + `, simulated-time limit ${formatDurationMs(timeLimitMs)}${userLimitMs === null ? ' (auto; set --time-limit)' : ''}`);
  const report: import('./outputs.ts').RunReport = {
    scenario: scenario.name, seed: scenario.seed, hosts: scenario.hostCount, fileSizeBytes: scenario.fileSizeBytes,
    lowerBoundMs: world.lowerBoundMs, strategies: [],
  };
  let status = 0;
  for (const name of strategies) {
    if (!isStrategy(name)) throw new ScenarioError(`--strategy: unknown strategy "${name}"`);
    const progress = new ProgressPrinter(name, { out: process.stderr, clock: () => performance.now() });
    const result = runStrategy(name, world, progress.hooks(), timeLimitMs);
    progress.done();
    report.strategies.push(result);
    if (result.stoppedAtLimitMs !== null) {
      const unfinished = result.hosts - result.crashedHosts - result.completedHosts;
      console.error(`dfsim: ${name} stopped at the simulated-time limit of ${formatDurationMs(result.stoppedAtLimitMs)} (--time-limit) with `
        + `${unfinished} of ${result.hosts - result.crashedHosts} hosts unfinished; rerun with a larger --time-limit to see them finish`);
      // The automatic limit is ten times the slowest sane plan: reaching it means the run is stuck.
      if (userLimitMs === null) status = 1;
    }
    for (const line of failureReport(result, rerunCommand(scenarioName, scenario.seed, name))) {
      status = 1;
      console.error(line);
    }
  }
  if (opts.json) console.log(JSON.stringify(summaryOf(report)));
  else console.log(formatTable(report));
  if (opts.out) {
    const files = await writeOutputs(opts.out, report);
    console.error(`dfsim: wrote ${files.join(', ')}`);
  }
  return status;
}

const program = new Command('dfsim')
  .description('Discrete-event simulator running the small-dragonfly core over a modelled network')
  .showHelpAfterError();

addScenarioOptions(program.command('run')
  .description('run strategies on a scenario and compare them')
  .argument('[scenario]', 'scenario name or path', 'default')
  .option('--strategy <list>', `comma-separated strategies (${STRATEGY_NAMES.join(', ')})`, STRATEGY_NAMES.join(','))
  .option('--time-limit <duration>', 'stop a strategy at this much simulated time, e.g. 30min (auto: ten times every host pulling from the origin, plus 1 h)', 'auto')
  .option('--out <dir>', 'write summary.json, hosts.csv, timeseries.csv and SVG charts here')
  .option('--json', 'print one JSON object instead of the table'))
  .action(async (scenarioName: string, opts) => { process.exitCode = await run(scenarioName, opts); });

addScenarioOptions(program.command('bound')
  .description('print the fluid lower bound T_min of a scenario')
  .argument('[scenario]', 'scenario name or path', 'default'))
  .action(async (scenarioName: string, opts) => {
    const scenario = await scenarioFrom(scenarioName, opts);
    const { buildWorld } = await import('./world.ts');
    const world = buildWorld(scenario);
    console.log(`T_min = ${(world.lowerBoundMs / 1000).toFixed(3)} s  (scenario ${scenario.name}, seed ${scenario.seed}, ${scenario.hostCount} hosts)`);
  });

addScenarioOptions(program.command('sweep')
  .description('run one strategy over a grid of settings on all cores; writes a CSV and a heatmap')
  .argument('[scenario]', 'scenario name or path', 'default')
  .option('--grid <axes...>', 'axes like piecesPerPull=2,4,8 peerUpLimit=5,8 pieceSizeBytes=4MiB,12MiB')
  .option('--strategy <name>', 'strategy to sweep', 'dragonfly')
  .option('--workers <n>', 'worker threads (default: all cores)')
  .option('--out <dir>', 'output directory', 'out/sweep'))
  .action(async (scenarioName: string, opts) => {
    const [strategy] = parseStrategies(opts.strategy);
    if (!opts.grid || opts.grid.length === 0) throw new ScenarioError('--grid: give at least one axis, e.g. --grid piecesPerPull=2,4,8');
    const { gridFlags, runSweep } = await import('./sweep.ts');
    // Every grid point with the flags, before any scenario is read or any worker starts.
    for (const point of gridFlags(opts.grid)) {
      try {
        checkCoreFlags({ ...coreFlags(opts), ...point });
      } catch (err) {
        if (err instanceof ScenarioError) throw new ScenarioError(`--grid ${JSON.stringify(point)}: ${err.message}`);
        throw err;
      }
    }
    const scenario = await scenarioFrom(scenarioName, opts);
    const rows = await runSweep({
      scenarioName, scenario, strategy: strategy as import('./strategies/index.ts').StrategyName, grid: opts.grid, outDir: opts.out,
      workers: opts.workers ? Number(opts.workers) : undefined, log: (line) => console.error(line),
    });
    const best = [...rows].sort((a, b) => b.efficiency - a.efficiency)[0];
    console.log(`best of ${rows.length}: ${JSON.stringify(best.settings)} efficiency ${best.efficiency.toFixed(3)}, origin egress ${best.originCopies.toFixed(2)} x file`);
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof ScenarioError) {
    console.error(`dfsim: ${err.message}`);
    process.exitCode = 2;
    return;
  }
  throw err;
});
