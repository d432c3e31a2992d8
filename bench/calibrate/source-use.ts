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
import { dfgetPieceEvents } from './timeline.ts';

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

interface SourceTally { node: TestbedNode; outstanding: number; busySinceMs: number; busyMs: number; bytes: number }

export function liveSourceUse(plan: TestbedPlan, logsDir: string): SourceUseRow[] {
  const nodes = [...plan.supernodes, ...plan.hosts];
  const byAddress = new Map(nodes.map((node) => [node.address, node]));
  if (byAddress.size < nodes.length) return [];
  const pieces = planPieces(plan.scenario.fileSizeBytes, configOrThrow(plan.scenario.core).pieceSizeBytes);
  // Every fetch as [start, end, source], from each host's log.
  const fetches: Array<{ startMs: number; endMs: number; source: TestbedNode; bytes: number }> = [];
  for (const host of plan.hosts) {
    const open = new Map<number, { startMs: number; source: TestbedNode }>();
    for (const event of dfgetPieceEvents(logsDir, host.name)) {
      if (event.kind === 'fetch') {
        const source = byAddress.get(event.address);
        if (source) open.set(event.piece, { startMs: event.atMs, source });
        continue;
      }
      const started = open.get(event.piece);
      if (!started) continue;
      open.delete(event.piece);
      fetches.push({ startMs: started.startMs, endMs: event.atMs, source: started.source, bytes: pieceBytes(pieces, event.piece) });
    }
  }
  if (fetches.length === 0) return [];
  const runStartMs = Math.min(...fetches.map((f) => f.startMs));
  const runMs = Math.max(...fetches.map((f) => f.endMs)) - runStartMs;
  if (!(runMs > 0)) return [];
  // Sweep the starts and ends in time order, counting each source's outstanding fetches.
  const edges = fetches.flatMap((f) => [{ atMs: f.startMs, delta: 1, f }, { atMs: f.endMs, delta: -1, f }])
    .sort((a, b) => a.atMs - b.atMs || a.delta - b.delta);
  const tallies = new Map<TestbedNode, SourceTally>();
  for (const { atMs, delta, f } of edges) {
    let tally = tallies.get(f.source);
    if (!tally) tallies.set(f.source, tally = { node: f.source, outstanding: 0, busySinceMs: 0, busyMs: 0, bytes: 0 });
    if (delta > 0 && tally.outstanding++ === 0) tally.busySinceMs = atMs;
    if (delta < 0) {
      tally.bytes += f.bytes;
      if (--tally.outstanding === 0) tally.busyMs += atMs - tally.busySinceMs;
    }
  }
  const row = (role: SourceUseRow['role'], members: TestbedNode[]): SourceUseRow[] => {
    if (members.length === 0) return [];
    const mean = (value: (node: TestbedNode) => number): number => members.reduce((sum, node) => sum + value(node), 0) / members.length;
    return [{
      role, sources: members.length,
      busyPercent: mean((node) => 100 * (tallies.get(node)?.busyMs ?? 0) / runMs),
      deliveredBytesPerSec: mean((node) => (tallies.get(node)?.bytes ?? 0) / (runMs / 1000)),
      linkBytesPerSec: mean((node) => node.upBytesPerSec * plan.scenario.goodput),
    }];
  };
  return [...row('supernode', plan.supernodes), ...row('host uploaders', plan.hosts)];
}
