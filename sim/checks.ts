/**
 * Oracles every run is held to, outside the core: no strategy beats the fluid lower bound,
 * every surviving host finishes (unless the run was stopped at its simulated-time limit, which
 * the CLI reports by itself), and for the core strategies no machine faulted (threw, or asked
 * to be woken for a deadline it had just been given: the run stops there), every written piece
 * was one whose bytes carried the right digest, every assignment carried a digest, and every peer
 * ran with the settings its supernode sent. A violation is a bug somewhere; `failureReport` gives
 * each with the seed and the command that replays the run.
 */
import { flagOf } from './overrides.ts';
import type { StrategyResult } from './result.ts';

const SLACK = 1e-9;

export function violations(r: StrategyResult): string[] {
  const problems: string[] = [];
  if (r.fault) {
    const f = r.fault;
    const what = f.kind === 'threw' ? 'threw' : 'asked again at once for the deadline it had just been given';
    problems.push(`${r.strategy}: core machine "${f.machine}" ${what} on input "${f.input}" at t=${f.atMs.toFixed(3)} ms (seed ${r.seed}): ${f.message}; the run stopped there`);
  }
  const surviving = r.hosts - r.crashedHosts;
  // The bound covers every surviving host, so it only binds a run in which they all finished.
  if (r.completedHosts === surviving && r.completionMs.max < r.lowerBoundMs * (1 - SLACK)) {
    problems.push(`${r.strategy}: last host finished at ${r.completionMs.max.toFixed(3)} ms, before the lower bound ${r.lowerBoundMs.toFixed(3)} ms`);
  }
  if (r.completedHosts !== surviving && r.stoppedAtLimitMs === null) {
    const reasons = [...new Set(r.hostResults.filter((h) => h.status === 'failed' || h.status === 'unfinished').map((h) => h.reason ?? h.status))];
    problems.push(`${r.strategy}: ${surviving - r.completedHosts} of ${surviving} surviving hosts did not finish (${reasons.slice(0, 3).join('; ')})`);
  }
  if ((r.counters.unverifiedWrites ?? 0) > 0) {
    problems.push(`${r.strategy}: ${r.counters.unverifiedWrites} pieces were written without matching bytes`);
  }
  if ((r.counters.assignmentsWithoutDigest ?? 0) > 0) {
    problems.push(`${r.strategy}: the core assigned ${r.counters.assignmentsWithoutDigest} pieces without a digest`);
  }
  if ((r.counters.peersOnDefaultSettings ?? 0) > 0) {
    problems.push(`${r.strategy}: ${r.counters.peersOnDefaultSettings} peers ran on the default settings: their supernode sent none`);
  }
  return problems;
}

/**
 * The command that replays a run: exact for a shipped scenario changed only by `--hosts`,
 * `--file-size` and core settings (those the result records); a caller that changed more (the
 * CLI, a test building its scenario in code) passes its own.
 */
export function rerunCommand(r: StrategyResult): string {
  const core = Object.entries(r.coreSettings).map(([setting, value]) => ` --${flagOf(setting)} ${String(value)}`).join('');
  return `npx dfsim run ${r.scenario} --seed ${r.seed} --strategy ${r.strategy} --hosts ${r.hosts} --file-size ${r.fileSizeBytes}${core}`;
}

/** Each violation as printed: the problem, the seed, and how to replay the run. */
export function failureReport(r: StrategyResult, rerun: string = rerunCommand(r)): string[] {
  return violations(r).map((problem) => `CHECK FAILED (seed ${r.seed}): ${problem}\n  rerun: ${rerun}`);
}
