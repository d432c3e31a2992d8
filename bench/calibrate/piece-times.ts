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
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { configOrThrow } from '../../core/config.ts';
import { pieceBytes, planPieces } from '../../core/pieces.ts';
import { slowStartLossMs } from '../../sim/strategies/dragonfly/connections.ts';
import type { TestbedPlan } from './plan.ts';

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

const FETCH_LINE = /^(\S+) info dfget\[\d+\] fetching piece (\d+) from (\S+) at (\S+):(\d+) /;
const PIECE_LINE = /^(\S+) info dfget\[\d+\] piece (\d+) received from /;

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
    let text = '';
    try { text = readFileSync(join(logsDir, `${host.name}-dfclient.log`), 'utf8'); } catch { continue; }
    /** Per source address: fetches running, and when the last one ended. */
    const sources = new Map<string, { running: number; lastEndMs: number }>();
    const inFlight = new Map<number, { startMs: number; address: string; path: PieceTimeRow['path']; connection: ConnectionState }>();
    for (const line of text.split('\n')) {
      const fetch = FETCH_LINE.exec(line);
      if (fetch) {
        const atMs = Date.parse(fetch[1]);
        const address = `${fetch[4]}:${fetch[5]}`;
        const source = sources.get(address);
        const connection: ConnectionState = !source ? 'new' : source.running > 0 || atMs - source.lastEndMs < idleMs ? 'warm' : 'idle';
        const sourceIdc = idcByAddress.get(fetch[4]);
        if (sourceIdc === undefined) continue;
        sources.set(address, { running: (source?.running ?? 0) + 1, lastEndMs: source?.lastEndMs ?? -Infinity });
        inFlight.set(Number(fetch[2]), { startMs: atMs, address, path: sourceIdc === host.idc ? 'inside an IDC' : 'across IDCs', connection });
        continue;
      }
      const got = PIECE_LINE.exec(line);
      if (!got) continue;
      const piece = Number(got[2]);
      const started = inFlight.get(piece);
      if (!started) continue;
      inFlight.delete(piece);
      const endMs = Date.parse(got[1]);
      const source = sources.get(started.address)!;
      source.running = Math.max(0, source.running - 1);
      source.lastEndMs = endMs;
      const key = `${started.path}/${started.connection}`;
      const row = rows.get(key) ?? { path: started.path, connection: started.connection, pieces: 0, totalMs: 0, bytes: 0 };
      row.pieces++;
      row.totalMs += endMs - started.startMs;
      row.bytes += pieceBytes(pieces, piece);
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
  if (connection === 'new') return tcp.connectRoundTrips * 2 * latencyMs + slowStartLossMs(sizeBytes, rateBps, 2 * latencyMs, tcp.initialWindowBytes);
  if (tcp.restartAfterIdleMs <= 0) return 0;
  // Idle one timeout: the window it had (the path) halved once (connections.ts).
  return slowStartLossMs(sizeBytes, rateBps, 2 * latencyMs, Math.max(tcp.initialWindowBytes, (rateBps * 2 * latencyMs) / 1000 / 2));
}
