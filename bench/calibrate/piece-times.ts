/**
 * How long live pieces took by the connection they came over: new (the host's first fetch from
 * that source), warm (another fetch from it still running, or its last one ended less than the
 * idle restart ago) or idle (used before, idle since), and whether the source sits in the
 * host's IDC or across. The mean fetch time (dfget's "fetching piece N" to "piece N received",
 * so queueing behind the host's other pieces counts) is beside what the scenario's `tcp:` model
 * adds to a lone piece on such a connection (connection opening plus slow start at the path's
 * rate for a new one, regrowing a halved window for one idle one timeout;
 * sim/strategies/dragonfly/connections.ts).
 *
 * This table is how bench/calibrate/README.md finding 10 was found: across two IDCs, a piece over
 * a new connection took 0.3 s longer than one inside an IDC, where the simulator had only its
 * round trip.
 */
import { configOrThrow } from '../../core/config.ts';
import { pieceBytes, planPieces } from '../../core/pieces.ts';
import { restartWindowBytes, slowStartLossMs } from '../../sim/strategies/dragonfly/connections.ts';
import type { TestbedPlan } from './plan.ts';
import { dfgetPieceEvents } from './timeline.ts';

export type ConnectionState = 'new' | 'warm' | 'idle';

export interface PieceTimeRow {
  path: 'inside an IDC' | 'across IDCs';
  connection: ConnectionState;
  pieces: number;
  /** Mean fetch time, ms. */
  meanMs: number;
  /** What the scenario's tcp: model adds to a lone piece of the mean size on such a connection, ms. */
  modelledExtraMs: number;
}

/** When a connection counts as idle without the scenario saying (Linux's least retransmission timeout). */
const DEFAULT_IDLE_MS = 200;

export function livePieceTimes(plan: TestbedPlan, logsDir: string): PieceTimeRow[] {
  const { scenario } = plan;
  const pieces = planPieces(scenario.fileSizeBytes, configOrThrow(scenario.core).pieceSizeBytes);
  const idleMs = scenario.tcp.restartAfterIdleMs > 0 ? scenario.tcp.restartAfterIdleMs : DEFAULT_IDLE_MS;
  const nodes = [...plan.supernodes, ...plan.hosts];
  const idcByAddress = new Map(nodes.map((node) => [node.address, node.idc]));
  // The app shape puts every node on 127.0.0.1: there a source's address does not say where it is (nor is there latency).
  if (idcByAddress.size < nodes.length) return [];
  const rows = new Map<string, { path: PieceTimeRow['path']; connection: ConnectionState; pieces: number; totalMs: number; bytes: number }>();
  for (const host of plan.hosts) {
    /** Per source address and port: fetches running, and when the last one ended. */
    const sources = new Map<string, { running: number; lastEndMs: number }>();
    const inFlight = new Map<number, { startMs: number; source: string; path: PieceTimeRow['path']; connection: ConnectionState }>();
    for (const event of dfgetPieceEvents(logsDir, host.name)) {
      if (event.kind === 'fetch') {
        const sourceIdc = idcByAddress.get(event.address);
        if (sourceIdc === undefined) continue;
        const key = `${event.address}:${event.port}`;
        const source = sources.get(key);
        const connection: ConnectionState = !source ? 'new' : source.running > 0 || event.atMs - source.lastEndMs < idleMs ? 'warm' : 'idle';
        sources.set(key, { running: (source?.running ?? 0) + 1, lastEndMs: source?.lastEndMs ?? -Infinity });
        inFlight.set(event.piece, { startMs: event.atMs, source: key, path: sourceIdc === host.idc ? 'inside an IDC' : 'across IDCs', connection });
        continue;
      }
      const started = inFlight.get(event.piece);
      if (!started) continue;
      inFlight.delete(event.piece);
      const source = sources.get(started.source)!;
      source.running = Math.max(0, source.running - 1);
      source.lastEndMs = event.atMs;
      const key = `${started.path}/${started.connection}`;
      const row = rows.get(key) ?? { path: started.path, connection: started.connection, pieces: 0, totalMs: 0, bytes: 0 };
      row.pieces++;
      row.totalMs += event.atMs - started.startMs;
      row.bytes += pieceBytes(pieces, event.piece);
      rows.set(key, row);
    }
  }
  const order = (r: { path: string; connection: ConnectionState }): number => (r.path === 'across IDCs' ? 0 : 3) + ['new', 'idle', 'warm'].indexOf(r.connection);
  return [...rows.values()].sort((a, b) => order(a) - order(b)).map((r) => ({
    path: r.path, connection: r.connection, pieces: r.pieces, meanMs: r.totalMs / r.pieces,
    modelledExtraMs: modelledExtraMs(plan, r.path, r.connection, r.bytes / r.pieces),
  }));
}

/** The tcp: model's extra time for a lone piece of `sizeBytes` (the first host's payload rate, the path's one-way latency). */
function modelledExtraMs(plan: TestbedPlan, path: PieceTimeRow['path'], connection: ConnectionState, sizeBytes: number): number {
  const { tcp, topology } = plan.scenario;
  if (connection === 'warm') return 0;
  const latencyMs = path === 'across IDCs' ? topology.crossIdcMs : topology.sameIdcMs;
  const rateBps = Math.min(plan.world.hostUpBps[0], plan.world.hostDownBps[0]);
  const rttMs = 2 * latencyMs;
  if (connection === 'new') return tcp.connectRoundTrips * rttMs + slowStartLossMs(sizeBytes, rateBps, rttMs, tcp.initialWindowBytes);
  if (tcp.restartAfterIdleMs <= 0) return 0;
  // Idle one timeout, as connections.ts restarts it.
  return slowStartLossMs(sizeBytes, rateBps, rttMs, restartWindowBytes(tcp, (rateBps * rttMs) / 1000, tcp.restartAfterIdleMs));
}
