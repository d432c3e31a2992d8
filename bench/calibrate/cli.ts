/**
 * `npm run calibrate`: run a simulator scenario live, on shaped links, and compare the two.
 *
 *   npm run calibrate -- --scenario calibration-homogeneous [--shape netns|app] [--json] [--out DIR]
 *
 * Steps: load the scenario (as dfsim does) and make it concrete for the seed; simulate it; build
 * the testbed (namespaces and tc, or nothing for the app shape); run the origin, supernode(s) and
 * one dfget per host at its arrival time; tear everything down (also on failure, Ctrl-C and
 * SIGTERM); write the report. Progress goes to stderr, the result to stdout.
 */
import { cpSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { formatRate, parseDurationMs } from '../../core/units.ts';
import type { CoreConfig } from '../../core/config.ts';
import { CORE_SETTINGS, flagOf } from '../../sim/overrides.ts';
import { ScenarioError, type Scenario } from '../../sim/scenario.ts';
import { removeDir } from '../testbed/processes.ts';
import { compare } from './compare.ts';
import { Launcher } from './launcher.ts';
import type { StartMode } from './host-process.ts';
import { checkLinks, type LinkCheck } from './link-check.ts';
import { runLive } from './live-run.ts';
import { NetnsTestbed, netnsUnavailableReason, QUEUE_MODES, removeStaleNamespaces, type QueueMode } from './netns.ts';
import { calibrationScenario, planTestbed, type TestbedPlan } from './plan.ts';
import { comparisonTable, writeReport } from './report.ts';
import { liveTimeline, simulateWithTimeline } from './timeline.ts';
import { newWorkDir, removeStaleWorkDirs } from './stale-runs.ts';
import { livePieceTimes } from './piece-times.ts';
import { liveSourceUse } from './source-use.ts';
import { liveUploadSplit } from './upload-split.ts';
import { simulateVariants } from './variants.ts';

/** Most spinning processes --busy-cores starts. */
const MAX_BUSY_CORES = 64;

interface CliOptions {
  scenario: string;
  shape?: 'netns' | 'app';
  json: boolean;
  out?: string;
  seed?: string;
  hosts?: string;
  fileSize?: string;
  timeout?: string;
  start: StartMode;
  sysctl: string[];
  gsoMaxSegs: string;
  queues: QueueMode;
  direct: boolean;
  busyCores: string;
}

const HELP = `
Shapes:
  netns  one network namespace per host, origin and supernode, joined by bridges (one per IDC);
         tc shapes each node's upload and download to the scenario's rates and adds its latencies.
         Needs root and iproute2; the default where it works. Everything is removed at the end,
         also on failure, Ctrl-C or SIGTERM; namespaces of a killed run (sdfcal<pid>-*) are
         removed by the next run.
  app    every process on 127.0.0.1, shaped by its own token buckets (dfget --locallimit and
         --upload-limit, supernode --limit-in/--limit-out, the origin's cap). No root needed;
         no latency, and the buckets pace whole pieces rather than packets.

Scenarios: any dfsim scenario without faults, by name (sim/scenarios: calibration-homogeneous,
calibration-mixed, calibration-staggered, calibration-two-idc, calibration-two-idc-fast, ...) or
file path. Every core setting is also a flag, as on dfsim (--piece-size-bytes 2MiB,
--source-fetch-concurrency 1, ...): it changes the scenario for both the simulator and the
supernode. The calibration scenarios model TCP's connection costs (tcp:); the report's variants
show the simulation without that and without other model inputs.

Output: report.md (with where the time goes, live piece times by connection, simulator variants,
how long the processes waited for a CPU and, in the netns shape, how busy the hosts' downlinks
were and what TCP went through: segments retransmitted, timeouts, packets the shaped queues
dropped), completion-cdf.svg, timeline.svg,
hosts.csv, timeline.csv, calibration.json and the processes' logs/ in --out (default
out/calibrate/<scenario>/). Completion times count from each host's own start.
Exit status: 0 all hosts done with correct files, 1 a host failed or a file differs,
2 bad flags or scenario, 3 the testbed could not be built or run.`;

/** Every core setting is a flag too (as on dfsim and the supernode), for both sides of the run. */
const CORE_FLAGS = new Set(CORE_SETTINGS.map((setting) => `--${flagOf(setting)}`));

function buildProgram(): Command {
  const program = new Command('calibrate')
    .description('Run a dfsim scenario live (origin, supernodes, one dfget per host) on shaped links and compare it with the simulator')
    .requiredOption('--scenario <name|file>', 'scenario name in sim/scenarios, or a YAML/JSON file')
    .addOption(new Option('--shape <shape>', 'netns (namespaces + tc) or app (token buckets on 127.0.0.1); default netns where it works').choices(['netns', 'app']))
    .option('--json', 'print one JSON object (sim, live, errorPercent, ...) instead of the table', false)
    .option('--out <dir>', 'report directory (default out/calibrate/<scenario>)')
    .option('--seed <seed>', 'seed (replaces the scenario\'s)')
    .option('--hosts <n>', 'run only the first n hosts of the scenario (scaled-down runs)')
    .option('--file-size <size>', 'file size instead of the scenario\'s, e.g. 16MiB')
    .addOption(new Option('--start <mode>', 'warm: each host\'s uploader runs and its dfget is loaded before t = 0 and told to go at its arrival '
      + '(the simulator\'s model); cold: dfget is spawned at its arrival and starts its uploader (start-up included)').choices(['warm', 'cold']).default('warm'))
    .option('--sysctl <key=value...>', 'netns shape: set these in every node\'s namespace, e.g. net.ipv4.tcp_slow_start_after_idle=0 '
      + 'or "net.ipv4.tcp_wmem=4096 1048576 4194304" (for experiments)', [])
    .option('--gso-max-segs <n>', 'netns shape: the largest packet a node\'s TCP hands its link, in segments (0 = the kernel\'s 64 KiB); '
      + 'a shaped queue drops such a packet whole (for experiments, see bench/calibrate/README.md finding 13)', '0')
    .addOption(new Option('--queues <mode>', 'netns shape: fifo: every shaped link one queue, as a plain switch port; small-first: packets under '
      + '1 KiB (ACKs, piece requests, most control messages) go ahead of the data queued on the link, as a host\'s fq_codel lets sparse '
      + 'flows pass; host-small-first: so on every node\'s own uplink, the switch ports (downlinks) FIFO, as a network of Linux hosts '
      + '(see bench/calibrate/README.md findings 15 and 17)').choices([...QUEUE_MODES]).default('fifo'))
    .option('--busy-cores <n>', 'keep n CPUs busy during the live run (spinning processes at normal priority): '
      + 'if the run does not slow down, its time is not bound by CPU', '0')
    .option('--direct', 'after the swarm, every host also pulls the file straight from the origin (curl) on the same links: the baseline', false)
    .option('--timeout <duration>', 'give up on hosts still running after this long (default: 4 x the simulated run + 60 s)')
    .addHelpText('after', HELP)
    .configureHelp({ visibleOptions: (cmd) => cmd.options.filter((o) => !CORE_FLAGS.has(o.long ?? '')) })
    .showHelpAfterError();
  for (const setting of CORE_SETTINGS) program.addOption(new Option(`--${flagOf(setting)} <value>`, `core setting ${setting}`));
  return program;
}

const log = (message: string): void => { process.stderr.write(`calibrate: ${message}\n`); };

export async function main(argv: string[]): Promise<number> {
  const request = await parseRequest(argv);
  return typeof request === 'number' ? request : calibrate(request, `npm run calibrate -- ${argv.slice(2).join(' ')}`);
}

interface Request { opts: CliOptions; scenario: Scenario; shape: 'netns' | 'app'; timeoutMs: number | null }

/** Flags and scenario checked before anything starts; a number is the exit status of a refusal. */
async function parseRequest(argv: string[]): Promise<Request | number> {
  let opts: CliOptions;
  try {
    opts = buildProgram().exitOverride().parse(argv).opts<CliOptions>();
  } catch (err) {
    // commander has printed the problem (or the help) already.
    return err instanceof CommanderError && (err.code === 'commander.helpDisplayed' || err.code === 'commander.help') ? 0 : 2;
  }
  let scenario: Scenario;
  let timeoutMs: number | null = null;
  try {
    const core: Partial<Record<keyof CoreConfig, string>> = {};
    for (const setting of CORE_SETTINGS) {
      const value = (opts as unknown as Record<string, string | undefined>)[setting];
      if (value !== undefined) core[setting] = value;
    }
    scenario = calibrationScenario(opts.scenario, { seed: opts.seed, hosts: opts.hosts, fileSize: opts.fileSize }, core);
    if (opts.timeout !== undefined) timeoutMs = parseDurationMs(opts.timeout);
  } catch (err) {
    if (err instanceof ScenarioError) return usage(err.message);
    return usage(`--timeout: ${(err as Error).message}`);
  }
  const badSysctl = opts.sysctl.find((setting) => !/^[a-z0-9_./-]+=\S( *\S)*$/i.test(setting));
  if (badSysctl !== undefined) return usage(`--sysctl: expected key=value, got "${badSysctl}"`);
  const unavailable = await netnsUnavailableReason();
  if (opts.shape === 'netns' && unavailable) return usage(`--shape netns cannot run here: ${unavailable}; use --shape app`);
  const shape = opts.shape ?? (unavailable ? 'app' : 'netns');
  if (shape === 'app' && opts.sysctl.length > 0) return usage('--sysctl needs --shape netns (the app shape runs in this machine\'s own network)');
  if (!/^\d+$/.test(opts.gsoMaxSegs) || Number(opts.gsoMaxSegs) > 65535) return usage(`--gso-max-segs: expected a whole number of segments (0 = the kernel's default), got "${opts.gsoMaxSegs}"`);
  if (shape === 'app' && opts.gsoMaxSegs !== '0') return usage('--gso-max-segs needs --shape netns');
  if (shape === 'app' && opts.queues !== 'fifo') return usage('--queues needs --shape netns');
  if (!/^\d+$/.test(opts.busyCores) || Number(opts.busyCores) > MAX_BUSY_CORES) return usage(`--busy-cores: expected a whole number up to ${MAX_BUSY_CORES}, got "${opts.busyCores}"`);
  if (!opts.shape && unavailable) log(`using --shape app: the netns testbed cannot run here (${unavailable})`);
  return { opts, scenario, shape, timeoutMs };
}

/** Simulate, build the testbed, run live, report; the testbed is removed whatever happens. */
async function calibrate({ opts, scenario, shape, timeoutMs }: Request, command: string): Promise<number> {
  const plan = planTestbed(scenario, shape === 'app');
  log(`scenario ${scenario.name}, seed ${scenario.seed}: ${scenario.hostCount} hosts, ${shape} shape; simulating first`);
  const { result: sim, timeline: simTimeline } = simulateWithTimeline(plan);
  const simEndMs = Math.max(...sim.hostResults.map((h) => h.completionMs ?? 0));
  log(`simulated: last host done at ${(simEndMs / 1000).toFixed(1)} s; now running it live`);
  const outDir = opts.out ?? join('out', 'calibrate', scenario.name);
  await removeStaleWorkDirs(log);
  const workDir = newWorkDir();
  log(`work dir ${workDir} (homes, logs and the origin's file; removed at the end)`);
  const abort = new AbortController();
  let cleaningUp = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (cleaningUp) return log(`${signal}: already stopping; removing the testbed, please wait`);
    log(`${signal}: stopping the run and removing the testbed`);
    abort.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let testbed: NetnsTestbed | null = null;
  let processes: Launcher | null = null;
  try {
    if (shape === 'netns') {
      await removeStaleNamespaces(log);
      testbed = await NetnsTestbed.create(plan, log, { sysctls: opts.sysctl, gsoMaxSegs: Number(opts.gsoMaxSegs), queues: opts.queues });
      log(`testbed up: ${plan.hosts.length + plan.supernodes.length + 2} namespaces, cross-IDC delay by ${testbed.delayMode}`);
    }
    if (abort.signal.aborted) throw new Error('interrupted');
    processes = new Launcher(testbed);
    const links = testbed ? await measureLinks(plan, processes) : null;
    const live = await runLive(plan, {
      launcher: processes, workDir, timeoutMs: timeoutMs ?? 4 * simEndMs + 60_000, expectedMs: simEndMs, start: opts.start, log, signal: abort.signal, direct: opts.direct, busyCores: Number(opts.busyCores),
      tcpCounters: testbed ? () => testbed!.tcpCounters() : null,
    });
    cleaningUp = true;
    const delayHub = await testbed?.delayHubStats() ?? null;
    await processes.stopAll();
    copyLogs(workDir, outDir, plan.hosts.length, plan.supernodes.length);
    const timelines = { sim: simTimeline, live: liveTimeline(plan, live, join(outDir, 'logs')) };
    const setup = {
      shape, start: opts.start, delayMode: testbed?.delayMode ?? 'none (app shape)', delayHub, links, sysctls: opts.sysctl, gsoMaxSegs: Number(opts.gsoMaxSegs),
      queues: opts.queues, busyCores: Number(opts.busyCores),
    };
    const calibration = compare(plan, sim, live, setup, timelines);
    calibration.variants = simulateVariants(scenario, calibration.live.completionMs);
    calibration.pieceTimes = livePieceTimes(plan, join(outDir, 'logs'));
    calibration.sourceUse = liveSourceUse(plan, join(outDir, 'logs'));
    calibration.uploadSplit = liveUploadSplit(plan, join(outDir, 'logs'));
    const files = await writeReport(outDir, calibration, timelines, command);
    process.stdout.write(opts.json ? `${JSON.stringify(calibration)}\n` : `${comparisonTable(calibration)}\n`);
    log(`wrote ${files.join(', ')} and ${join(outDir, 'logs')}/`);
    const ok = calibration.liveChecks.hostsDone === plan.hosts.length && calibration.liveChecks.digestsOk === plan.hosts.length;
    if (!ok) log('FAILED: not every host finished with the origin\'s file (see report.md)');
    return ok ? 0 : 1;
  } catch (err) {
    cleaningUp = true;
    log(`the live run failed: ${(err as Error).message}`);
    if (processes && !abort.signal.aborted) process.stderr.write(`${processes.describeAll()}\n`);
    return 3;
  } finally {
    cleaningUp = true;
    await processes?.stopAll();
    await testbed?.teardown();
    removeDir(workDir);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

async function measureLinks(plan: TestbedPlan, processes: Launcher): Promise<LinkCheck> {
  const links = await checkLinks(plan, processes);
  for (const g of links.goodput) log(`link ${g.from} -> ${g.to}: one TCP flow gets ${formatRate(g.goodputBytesPerSec)} of ${formatRate(g.nominalBytesPerSec)}`);
  for (const r of links.rtt) log(`round trip ${r.from} <-> ${r.to}: ${r.medianMs.toFixed(2)} ms (scenario: ${r.expectedMs} ms)`);
  return links;
}

function usage(message: string): number {
  process.stderr.write(`calibrate: ${message}\n`);
  return 2;
}

/** Keep each process's log beside the report: the evidence for any gap it shows. */
function copyLogs(workDir: string, outDir: string, hosts: number, supernodes: number): void {
  const target = join(outDir, 'logs');
  removeDir(target);
  mkdirSync(target, { recursive: true });
  const copy = (from: string, to: string): void => { if (existsSync(from)) cpSync(from, join(target, to)); };
  for (let i = 0; i < supernodes; i++) copy(join(workDir, `sn${i}`, 'logs', 'supernode.log'), `sn${i}-supernode.log`);
  for (let i = 0; i < hosts; i++) copy(join(workDir, `h${i}`, 'logs', 'dfclient.log'), `h${i}-dfclient.log`);
}

process.exitCode = await main(process.argv);
