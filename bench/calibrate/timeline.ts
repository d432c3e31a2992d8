/**
 * Where the time goes, live and simulated, for diagnosing a gap: when each host received each
 * piece (and from whom), and how the origin's egress grew.
 *
 * Simulated: the run is watched after every event (`RunHooks.afterEvent`); a flow that finishes
 * moves a host's received bytes and its source's sent bytes in the same event. Live: each dfget
 * logs "piece N received from SOURCE" with a wall-clock time, and the origin process samples its
 * byte count; both are taken relative to the host's start and to t = 0.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { configOrThrow } from '../../core/config.ts';
import { pieceBytes, planPieces } from '../../core/pieces.ts';
import type { Simulation } from '../../sim/engine.ts';
import type { StrategyResult } from '../../sim/result.ts';
import { runStrategy } from '../../sim/strategies/index.ts';
import type { LiveResult } from './live-run.ts';
import type { TestbedPlan } from './plan.ts';
import { median } from '../median.ts';

export interface PieceArrival { atMs: number; bytes: number; fromSupernode: boolean }

export interface RunTimeline {
  /** Per host: piece arrivals, ms since the host's own start. */
  hosts: PieceArrival[][];
  /**
   * Per piece fetched alone (the requester had nothing else in flight from its start to its
   * end), the time beyond moving its bytes at the link's payload rate: request, response, TCP
   * warm-up, hashing. Live only (the simulator's is the scenario's `hosts.pieceOverheadMs`).
   */
  pieceOverheadsMs: number[];
  /** [ms since t = 0, origin bytes sent so far]. */
  origin: [number, number][];
}

export interface TimelineSummary {
  /** When the origin had sent the whole file (the CDN's fetch done), ms since t = 0. */
  originDoneMs: number;
  /** Mean over hosts: first piece in, ms after the host's start. */
  firstPieceMs: number;
  /** Mean over hosts of the bytes after the first piece over the time they took. */
  steadyBytesPerSec: number;
  /** Mean over hosts of the longest wait between two pieces. */
  longestGapMs: number;
  piecesFromSupernode: number;
  piecesFromPeers: number;
  /** Median per-piece overhead (RunTimeline.pieceOverheadsMs); NaN when none was measured. */
  pieceOverheadMs: number;
}

/** The simulator's run of the plan's world, watched for the timeline. */
export function simulateWithTimeline(plan: TestbedPlan): { result: StrategyResult; timeline: RunTimeline } {
  const timeline: RunTimeline = { hosts: plan.hosts.map(() => []), origin: [], pieceOverheadsMs: [] };
  let lastSent: number[] = [];
  let lastReceived: number[] = [];
  const afterEvent = (sim: Simulation): void => {
    const { sentBytes, receivedBytes } = sim.network;
    if (lastSent.length === 0) {
      lastSent = sentBytes.map(() => 0);
      lastReceived = receivedBytes.map(() => 0);
    }
    let source = -1;
    for (let node = 0; node < sentBytes.length; node++) if (sentBytes[node] !== lastSent[node]) source = node;
    if (source === sim.originNode) timeline.origin.push([sim.nowMs, sentBytes[source]]);
    for (let h = 0; h < plan.hosts.length; h++) {
      const node = sim.hostNode(h);
      const bytes = receivedBytes[node] - lastReceived[node];
      if (bytes > 0) timeline.hosts[h].push({ atMs: sim.nowMs - plan.hosts[h].arrivalMs, bytes, fromSupernode: sim.supernodeNodes.includes(source) });
    }
    lastSent = sentBytes.slice();
    lastReceived = receivedBytes.slice();
  };
  return { result: runStrategy('dragonfly', plan.world, { afterEvent }), timeline };
}

/** What a dfget logs of its pieces: a fetch sent to a source, or a piece received (wall-clock ms). */
export type DfgetPieceEvent =
  | { kind: 'fetch'; atMs: number; piece: number; address: string; port: number; inFlight: number }
  | { kind: 'received'; atMs: number; piece: number; source: string };

const FETCH_LINE = /^(\S+) info dfget\[\d+\] fetching piece (\d+) from \S+ at (\S+):(\d+) \((\d+) in flight\)/;
const PIECE_LINE = /^(\S+) info dfget\[\d+\] piece (\d+) received from (\S+) /;

/** The piece events of host `name`'s dfclient.log in `logsDir`, in log order (none when it cannot be read). */
export function dfgetPieceEvents(logsDir: string, name: string): DfgetPieceEvent[] {
  let text = '';
  try { text = readFileSync(join(logsDir, `${name}-dfclient.log`), 'utf8'); } catch { return []; }
  const events: DfgetPieceEvent[] = [];
  for (const line of text.split('\n')) {
    const fetch = FETCH_LINE.exec(line);
    if (fetch) {
      events.push({ kind: 'fetch', atMs: Date.parse(fetch[1]), piece: Number(fetch[2]), address: fetch[3], port: Number(fetch[4]), inFlight: Number(fetch[5]) });
      continue;
    }
    const got = PIECE_LINE.exec(line);
    if (got) events.push({ kind: 'received', atMs: Date.parse(got[1]), piece: Number(got[2]), source: got[3] });
  }
  return events;
}

/** A fetch of host `name` that ended with its piece received: when it was asked for, from where, and when it was in. */
export interface DfgetFetch { piece: number; startMs: number; endMs: number; address: string; port: number }

/** Host `name`'s fetches that ended with their piece received, each paired with its request (dfgetPieceEvents). */
export function dfgetFetches(logsDir: string, name: string): DfgetFetch[] {
  const open = new Map<number, Extract<DfgetPieceEvent, { kind: 'fetch' }>>();
  const fetches: DfgetFetch[] = [];
  for (const event of dfgetPieceEvents(logsDir, name)) {
    if (event.kind === 'fetch') {
      open.set(event.piece, event);
      continue;
    }
    const request = open.get(event.piece);
    if (!request) continue;
    open.delete(event.piece);
    fetches.push({ piece: event.piece, startMs: request.atMs, endMs: event.atMs, address: request.address, port: request.port });
  }
  return fetches;
}

/** Every host's fetches that ended with their piece received, and the run they span: first request to last arrival (0 without any). */
export function runFetches(plan: TestbedPlan, logsDir: string): { fetches: DfgetFetch[]; runMs: number } {
  const fetches = plan.hosts.flatMap((host) => dfgetFetches(logsDir, host.name));
  let startMs = Infinity;
  let endMs = -Infinity;
  for (const fetch of fetches) {
    startMs = Math.min(startMs, fetch.startMs);
    endMs = Math.max(endMs, fetch.endMs);
  }
  return { fetches, runMs: fetches.length > 0 ? endMs - startMs : 0 };
}

/** Total length of the union of [start, end] intervals. */
export function unionMs(intervals: ReadonlyArray<readonly [number, number]>): number {
  const sorted = [...intervals].sort((a, b) => a[0] - b[0]);
  let total = 0;
  let start = -Infinity;
  let end = -Infinity;
  for (const [a, b] of sorted) {
    if (a > end) {
      if (end > start) total += end - start;
      start = a;
      end = b;
    } else end = Math.max(end, b);
  }
  if (end > start) total += end - start;
  return total;
}

/** The live run's timeline from the dfget logs in `logsDir` (h<i>-dfclient.log) and the origin's samples. */
export function liveTimeline(plan: TestbedPlan, live: LiveResult, logsDir: string): RunTimeline {
  const pieces = planPieces(plan.scenario.fileSizeBytes, configOrThrow(plan.scenario.core).pieceSizeBytes);
  const upRateByAddress = new Map([...plan.supernodes, ...plan.hosts].map((node) => [node.address, node.upBytesPerSec]));
  const pieceOverheadsMs: number[] = [];
  const hosts = plan.hosts.map((host, i): PieceArrival[] => {
    const arrivals: PieceArrival[] = [];
    /** The fetch running alone on this host: piece, start, link payload rate; null when none or not alone. */
    let alone: { piece: number; startMs: number; bytesPerSec: number } | null = null;
    for (const event of dfgetPieceEvents(logsDir, host.name)) {
      if (event.kind === 'fetch') {
        const sourceUp = upRateByAddress.get(event.address);
        alone = event.inFlight === 1 && sourceUp !== undefined
          ? { piece: event.piece, startMs: event.atMs, bytesPerSec: plan.scenario.goodput * Math.min(sourceUp, host.downBytesPerSec) }
          : null;
        continue;
      }
      const bytes = pieceBytes(pieces, event.piece);
      if (alone && alone.piece === event.piece) pieceOverheadsMs.push(event.atMs - alone.startMs - (1000 * bytes) / alone.bytesPerSec);
      alone = null;
      arrivals.push({ atMs: event.atMs - live.hosts[i].startedEpochMs, bytes, fromSupernode: event.source === '@supernode' });
    }
    return arrivals;
  });
  return { hosts, origin: live.origin.series.map(([epochMs, bytes]) => [epochMs - live.t0EpochMs, bytes]), pieceOverheadsMs };
}

export function summarizeTimeline(timeline: RunTimeline, fileSizeBytes: number): TimelineSummary {
  const mean = (values: number[]): number => (values.length === 0 ? NaN : values.reduce((a, b) => a + b, 0) / values.length);
  const withPieces = timeline.hosts.filter((arrivals) => arrivals.length > 0);
  const steady = withPieces.filter((a) => a.length > 1).map((a) => {
    const bytes = a.slice(1).reduce((sum, p) => sum + p.bytes, 0);
    return bytes / Math.max(1e-3, (a[a.length - 1].atMs - a[0].atMs) / 1000);
  });
  const gaps = withPieces.map((a) => Math.max(0, ...a.slice(1).map((p, i) => p.atMs - a[i].atMs)));
  const done = timeline.origin.find(([, bytes]) => bytes >= fileSizeBytes);
  const all = timeline.hosts.flat();
  return {
    originDoneMs: done ? done[0] : NaN,
    firstPieceMs: mean(withPieces.map((a) => a[0].atMs)),
    steadyBytesPerSec: mean(steady),
    longestGapMs: mean(gaps),
    piecesFromSupernode: all.filter((p) => p.fromSupernode).length,
    piecesFromPeers: all.filter((p) => !p.fromSupernode).length,
    pieceOverheadMs: median(timeline.pieceOverheadsMs),
  };
}

/** Mean share of the file the hosts hold, every `stepMs` after their own start, until all are done. */
export function meanProgress(timeline: RunTimeline, fileSizeBytes: number, stepMs = 250): { x: number; y: number }[] {
  const end = Math.max(0, ...timeline.hosts.flat().map((p) => p.atMs));
  const points: { x: number; y: number }[] = [];
  for (let t = 0; t <= end + stepMs; t += stepMs) {
    const shares = timeline.hosts.map((a) => a.filter((p) => p.atMs <= t).reduce((sum, p) => sum + p.bytes, 0) / fileSizeBytes);
    points.push({ x: t / 1000, y: (100 * shares.reduce((a, b) => a + b, 0)) / Math.max(1, shares.length) });
  }
  return points;
}

/** The origin's egress in % of the file over time since t = 0. */
export function originProgress(timeline: RunTimeline, fileSizeBytes: number): { x: number; y: number }[] {
  return [{ x: 0, y: 0 }, ...timeline.origin.map(([ms, bytes]) => ({ x: ms / 1000, y: (100 * bytes) / fileSizeBytes }))];
}
