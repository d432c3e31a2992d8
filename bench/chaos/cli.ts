/**
 * `npm run chaos`: the chaos campaign — simulated fault seeds, live fault rounds on 127.0.0.1 and
 * port fuzzing — with a Markdown + CSV report in --out. Exits 1 when any check failed (the report
 * lists each finding with the command that replays it), 0 otherwise. Every process it starts is
 * stopped at the end of its round; on Ctrl-C or an error, whatever is left under its work dir is
 * killed by pid and its tmpfs mounts are taken away.
 */
import { Command, InvalidArgumentError } from 'commander';
import { loadavg } from 'node:os';
import { removeDir, tempDir } from '../testbed/processes.ts';
import { runFuzz, type FuzzOutcome } from './fuzz-campaign.ts';
import { runLiveRounds, type LiveRoundResult } from './live-campaign.ts';
import { DEFAULT_LIARS, LIVE_FAULTS } from './live-faults.ts';
import { killPids, pidsMentioning } from '../testbed/proc-scan.ts';
import { figures, writeReport, type Campaign } from './report.ts';
import { runSimSeed, type SimSeedOutcome } from './sim-seed.ts';
import { unmountAll } from './tmpfs.ts';
import { parseDurationMs } from '../../core/units.ts';

const whole = (text: string): number => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`expected a whole number, got "${text}"`);
  return n;
};

function command(): Command {
  return new Command('chaos')
    .description('chaos campaign: simulated fault seeds, live fault rounds on 127.0.0.1 (kill -9, bit rot, changed source, full disk, liars, frozen uploaders), fuzzing of every port')
    .option('--seeds <n>', 'simulated seeds of the chaos scenario', whole, 100)
    .option('--first-seed <n>', 'first simulated seed', whole, 1)
    .option('--rounds <n>', `live fault rounds (fault kinds in rotation, ${LIVE_FAULTS.length} kinds)`, whole, 6 * LIVE_FAULTS.length)
    .option('--first-round <n>', `first live round (its fault kind is round mod ${LIVE_FAULTS.length})`, whole, 0)
    .option('--round-deadline <duration>', 'a live round not over by then is a hang', '2min')
    .option('--liars <n>', 'lying peers per lying round', whole, DEFAULT_LIARS)
    .option('--fuzz-inputs <n>', 'generated inputs per fuzzed port', whole, 10_000)
    .option('--no-fuzz', 'skip the port fuzzing')
    .option('--seed <text>', 'seed of the live rounds\' random moments and of the fuzz inputs', 'chaos')
    .option('--out <dir>', 'report directory (chaos.md, *.csv)', 'out/chaos');
}

function simCampaign(first: number, count: number, log: (line: string) => void): SimSeedOutcome[] {
  const out: SimSeedOutcome[] = [];
  for (let seed = first; seed < first + count; seed++) {
    const o = runSimSeed(seed);
    out.push(o);
    if (o.problems.length > 0) log(o.problems.join('\n'));
    else if (seed % 10 === 0 || seed === first + count - 1) log(`sim seeds ${first}..${seed}: ${out.filter((s) => s.problems.length > 0).length} failing`);
  }
  return out;
}

function cleanUp(workDir: string): void {
  killPids(pidsMentioning(workDir));
  unmountAll();
  removeDir(workDir);
}

export async function main(argv: string[]): Promise<number> {
  const opts = command().parse(argv).opts<{ seeds: number; firstSeed: number; rounds: number; firstRound: number; roundDeadline: string;
    fuzzInputs: number; fuzz: boolean; liars: number; seed: string; out: string }>();
  const workDir = tempDir('chaos');
  const onSignal = (): void => { console.error('chaos: interrupted; stopping every process it started'); cleanUp(workDir); process.exit(130); };
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
  const log = (line: string): void => console.log(line);
  const started = Date.now();
  try {
    const sim = simCampaign(opts.firstSeed, opts.seeds, log);
    const live: LiveRoundResult[] = opts.rounds > 0
      ? await runLiveRounds({ rounds: opts.rounds, firstRound: opts.firstRound, seed: opts.seed, deadlineMs: parseDurationMs(opts.roundDeadline), workDir, log, liars: opts.liars }) : [];
    const fuzz: FuzzOutcome | null = opts.fuzz && opts.fuzzInputs > 0
      ? await runFuzz({ inputs: opts.fuzzInputs, seed: hashSeed(opts.seed), workDir, log }) : null;
    const campaign: Campaign = {
      command: argv.length > 2 ? `npm run chaos -- ${argv.slice(2).join(' ')}` : 'npm run chaos', startedAt: new Date(started).toISOString(),
      wallSeconds: (Date.now() - started) / 1000, loadAverage: loadavg(), sim, live, fuzz,
    };
    const path = writeReport(opts.out, campaign);
    const table = figures(campaign);
    for (const [name, value] of table) log(`${name.padEnd(50)} ${value}`);
    log(`report: ${path}`);
    const failed = table.some(([name, value]) => value > 0 && !/^(simulated seeds|live rounds|live downloads|fuzz inputs|live clean)/.test(name));
    return failed ? 1 : 0;
  } finally {
    cleanUp(workDir);
  }
}

function hashSeed(text: string): number {
  let h = 2166136261;
  for (const c of text) h = Math.imul(h ^ c.charCodeAt(0), 16777619);
  return h >>> 0;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv).then((code) => process.exit(code), (err: Error) => { console.error(err.stack ?? err.message); process.exit(2); });
}
