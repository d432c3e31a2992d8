/**
 * How much of their links the live run's sources used. From the dfget logs, for the supernode and
 * for the hosts' uploaders: the share of the run during which a source had at least one fetch
 * outstanding (a requester's "fetching piece N from <address>" to its "piece N received"), and
 * the piece bytes it delivered per second against its link's payload rate (upload rate x goodput).
 *
 * A source busy most of the run that delivers well under its link says the time goes inside the
 * fetches (request, first byte, the last byte's processing) rather than in waiting for work — the
 * question bench/calibrate/README.md finding 14 asked of shaped-16.
 *
 * The app shape puts every node on 127.0.0.1, where an address does not say which node served: no
 * rows there (as in piece-times.ts).
 */
import { configOrThrow } from '../../core/config.ts';
import { pieceBytes, planPieces } from '../../core/pieces.ts';
import type { TestbedNode, TestbedPlan } from './plan.ts';
import { runFetches, unionMs } from './timeline.ts';

export interface SourceUseRow {
  role: 'supernode' | 'host uploaders';
  sources: number;
  /** Mean over the sources of the share of the run with a fetch from them outstanding, %. */
  busyPercent: number;
  /** Mean over the sources of the piece bytes delivered per second of the run. */
  deliveredBytesPerSec: number;
  /** Mean over the sources of their link's payload rate. */
  linkBytesPerSec: number;
}

export function liveSourceUse(plan: TestbedPlan, logsDir: string): SourceUseRow[] {
  const nodes = [...plan.supernodes, ...plan.hosts];
  const byAddress = new Map(nodes.map((node) => [node.address, node]));
  if (byAddress.size < nodes.length) return [];
  const pieces = planPieces(plan.scenario.fileSizeBytes, configOrThrow(plan.scenario.core).pieceSizeBytes);
  /** Per source: its fetches' [start, end] and the piece bytes they delivered. */
  const bySource = new Map<TestbedNode, { intervals: Array<[number, number]>; bytes: number }>();
  const { fetches, runMs } = runFetches(plan, logsDir);
  for (const fetch of fetches) {
    const source = byAddress.get(fetch.address);
    if (!source) continue;
    const use = bySource.get(source) ?? { intervals: [], bytes: 0 };
    use.intervals.push([fetch.startMs, fetch.endMs]);
    use.bytes += pieceBytes(pieces, fetch.piece);
    bySource.set(source, use);
  }
  if (!(runMs > 0)) return [];
  const row = (role: SourceUseRow['role'], members: TestbedNode[]): SourceUseRow[] => {
    if (members.length === 0) return [];
    const mean = (value: (node: TestbedNode) => number): number => members.reduce((sum, node) => sum + value(node), 0) / members.length;
    return [{
      role, sources: members.length,
      busyPercent: mean((node) => 100 * unionMs(bySource.get(node)?.intervals ?? []) / runMs),
      deliveredBytesPerSec: mean((node) => (bySource.get(node)?.bytes ?? 0) / (runMs / 1000)),
      linkBytesPerSec: mean((node) => node.upBytesPerSec * plan.scenario.goodput),
    }];
  };
  return [...row('supernode', plan.supernodes), ...row('host uploaders', plan.hosts)];
}
