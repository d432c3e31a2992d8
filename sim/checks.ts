/**
 * Oracles every run is held to, outside the core: no strategy beats the fluid lower bound,
 * every surviving host finishes (unless the run was stopped at its simulated-time limit, which
 * the CLI reports by itself), and (for the core strategies) every written piece was one whose
 * bytes carried the right digest, every assignment carried a digest, and no core machine asked
 * to be woken for a deadline it had just been given. A violation is a bug somewhere; the CLI prints it with the
 * seed and the command that replays it.
 */
import type { StrategyResult } from './result.ts';

const SLACK = 1e-9;

export function violations(r: StrategyResult): string[] {
  const problems: string[] = [];
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
  if ((r.counters.repeatedDeadlines ?? 0) > 0) {
    problems.push(`${r.strategy}: a core machine asked ${r.counters.repeatedDeadlines} times to be woken for a deadline it had just been given`);
  }
  return problems;
}
