/**
 * dfsim: run the core over a simulated network and compare strategies.
 *
 *   dfsim run [scenario] [--strategy a,b] [--seed N] [--hosts N] [--file-size 1GiB] ... [--out DIR] [--json]
 *   dfsim bound [scenario] ...                     prints the fluid lower bound T_min
 *   dfsim sweep [scenario] --grid piecesPerPull=2,4,8 peerUpLimit=5,8 ...
 *
 * A scenario is a name from sim/scenarios (default, heterogeneous, staggered, faults) or a
 * path to a YAML/JSON file (schema in sim/scenario.ts). Every run prints its seed; a run that
 * breaks an oracle (sim/checks.ts) prints the seed and the command that replays it, and exits 1.
 */
import { Command, Option } from 'commander';
import { DEFAULT_CONFIG, type CoreConfig } from '../core/config.ts';
import { formatDurationMs } from '../core/units.ts';
import { violations } from './checks.ts';
import { formatTable, summaryOf, writeOutputs, type RunReport } from './outputs.ts';
import { applyOverrides, CORE_SETTINGS, flagOf, type CommonOverrides } from './overrides.ts';
import { loadScenario, ScenarioError, type Scenario } from './scenario.ts';
import { isStrategy, runStrategy, STRATEGIES, type StrategyName } from './strategies/index.ts';
import { runSweep } from './sweep.ts';
import { buildWorld } from './world.ts';

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
    .option('--declare-topology <bool>', 'hosts tell the supernode their IDC and rack (true, the default) or not (false)');
  for (const setting of CORE_SETTINGS) cmd.addOption(new Option(`--${flagOf(setting)} <value>`, `core setting ${setting} (default ${String(DEFAULT_CONFIG[setting])})`));
  return cmd;
}

function scenarioFrom(name: string, opts: ScenarioOptions): Scenario {
  const core: Partial<Record<keyof CoreConfig, string>> = {};
  for (const setting of CORE_SETTINGS) if (opts[setting] !== undefined) core[setting] = opts[setting];
  return applyOverrides(loadScenario(name), opts, core);
}

function parseStrategies(text: string): StrategyName[] {
  const names = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const name of names) {
    if (!isStrategy(name)) throw new ScenarioError(`--strategy: unknown strategy "${name}" (known: ${STRATEGIES.join(', ')})`);
  }
  return names as StrategyName[];
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

async function run(scenarioName: string, opts: ScenarioOptions & { strategy: string; out?: string; json?: boolean }): Promise<number> {
  const scenario = scenarioFrom(scenarioName, opts);
  const strategies = parseStrategies(opts.strategy);
  const world = buildWorld(scenario);
  console.error(`dfsim: scenario ${scenario.name}, seed ${scenario.seed}, ${scenario.hostCount} hosts, strategies ${strategies.join(', ')}`);
  const progress = process.stderr.isTTY;
  const report: RunReport = {
    scenario: scenario.name, seed: scenario.seed, hosts: scenario.hostCount, fileSizeBytes: scenario.fileSizeBytes,
    lowerBoundMs: world.lowerBoundMs, strategies: [],
  };
  let failed = false;
  for (const name of strategies) {
    const result = runStrategy(name, world, progress ? {
      progress: (sim) => process.stderr.write(`\r${name}: t=${formatDurationMs(sim.nowMs)} hosts done ${sim.hostsDone}/${sim.hostCount}, ${sim.events} events   `),
    } : {});
    if (progress) process.stderr.write('\r\x1b[K');
    report.strategies.push(result);
    for (const problem of violations(result)) {
      failed = true;
      console.error(`CHECK FAILED (seed ${scenario.seed}): ${problem}\n  rerun: ${rerunCommand(scenarioName, scenario.seed, name)}`);
    }
  }
  if (opts.json) console.log(JSON.stringify(summaryOf(report)));
  else console.log(formatTable(report));
  if (opts.out) {
    const files = await writeOutputs(opts.out, report);
    console.error(`dfsim: wrote ${files.join(', ')}`);
  }
  return failed ? 1 : 0;
}

const program = new Command('dfsim')
  .description('Discrete-event simulator running the small-dragonfly core over a modelled network')
  .showHelpAfterError();

addScenarioOptions(program.command('run')
  .description('run strategies on a scenario and compare them')
  .argument('[scenario]', 'scenario name or path', 'default')
  .option('--strategy <list>', `comma-separated strategies (${STRATEGIES.join(', ')})`, STRATEGIES.join(','))
  .option('--out <dir>', 'write summary.json, hosts.csv, timeseries.csv and SVG charts here')
  .option('--json', 'print one JSON object instead of the table'))
  .action(async (scenarioName: string, opts) => { process.exitCode = await run(scenarioName, opts); });

addScenarioOptions(program.command('bound')
  .description('print the fluid lower bound T_min of a scenario')
  .argument('[scenario]', 'scenario name or path', 'default'))
  .action((scenarioName: string, opts) => {
    const scenario = scenarioFrom(scenarioName, opts);
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
    const scenario = scenarioFrom(scenarioName, opts);
    const [strategy] = parseStrategies(opts.strategy);
    if (!opts.grid || opts.grid.length === 0) throw new ScenarioError('--grid: give at least one axis, e.g. --grid piecesPerPull=2,4,8');
    const rows = await runSweep({ scenarioName, scenario, strategy, grid: opts.grid, outDir: opts.out, workers: opts.workers ? Number(opts.workers) : undefined, log: (line) => console.error(line) });
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
