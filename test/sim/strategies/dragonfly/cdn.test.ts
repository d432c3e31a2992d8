import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { DragonflyRun } from '../../../../sim/strategies/dragonfly/run.ts';
import { TASK_ID } from '../../../../sim/strategies/dragonfly/task.ts';
import { runDragonflyOpen, smallScenario } from '../../../helpers/sim-run.ts';

const MiB = 1024 * 1024;
const PIECE_BYTES = 4 * MiB;
const PIECES = 16;
const ORIGIN_BYTES_PER_MS = 400e6 / 8 / 1000;
/** Supernode and origin sit in one IDC, 0.5 ms apart: the probe and each ranged GET cost 1 ms. */
const ORIGIN_RTT_MS = 1;

function scenario(sourceFetchConcurrency: number, hostDown = '1Gbit') {
  return smallScenario({
    fileSize: `${PIECES * 4}MiB`, hosts: { count: 4, up: '1Gbit', down: hostDown }, origin: { up: '400Mbit' },
    core: { pieceSizeBytes: '4MiB', sourceFetchConcurrency },
  });
}

/** Every time a piece becomes stored in supernode 0's cache: (piece, virtual time). */
function recordLandings(landings: { piece: number; atMs: number }[]) {
  const held = new Uint8Array(PIECES);
  return (run: DragonflyRun) => {
    const stored = run.cdn.stored(0);
    if (!stored) return;
    for (let piece = 0; piece < PIECES; piece++) {
      const has = stored.has(piece) ? 1 : 0;
      if (has && !held[piece]) landings.push({ piece, atMs: run.sim.nowMs });
      held[piece] = has;
    }
  };
}

test('sourceFetchConcurrency 4: four ranged GETs stream quarters of the file; their first pieces land together', () => {
  const landings: { piece: number; atMs: number }[] = [];
  const { result } = runDragonflyOpen(scenario(4), recordLandings(landings));
  const firstFour = landings.slice(0, 4);
  assert.equal(firstFour.map((l) => l.piece).sort((a, b) => a - b), [0, 4, 8, 12], 'the first piece of each run lands first');
  const spreadMs = Math.max(...firstFour.map((l) => l.atMs)) - Math.min(...firstFour.map((l) => l.atMs));
  assert.ok(spreadMs < 0.01, `first pieces of the four runs landed ${spreadMs} ms apart`);
  // Probe, one GET round trip, then four streams share the origin's uplink.
  const expectedMs = 2 * ORIGIN_RTT_MS + (4 * PIECE_BYTES) / ORIGIN_BYTES_PER_MS;
  assert.ok(Math.abs(firstFour[0].atMs - expectedMs) < 0.01 * expectedMs, `first pieces at ${firstFour[0].atMs} ms, expected ~${expectedMs}`);
  for (const first of [0, 4, 8, 12]) {
    const run = landings.filter((l) => l.piece >= first && l.piece < first + 4).map((l) => l.piece);
    assert.equal(run, [first, first + 1, first + 2, first + 3], 'each run streams its pieces in order');
  }
  assert.is(result.originEgressBytes, result.fileSizeBytes, 'the origin sends one copy');
  assert.is(result.completedHosts, 4);
});

test('sourceFetchConcurrency 1: one GET streams the file in order, piece 0 first, with no gap between pieces', () => {
  const landings: { piece: number; atMs: number }[] = [];
  const { result } = runDragonflyOpen(scenario(1), recordLandings(landings));
  assert.equal(landings.map((l) => l.piece), Array.from({ length: PIECES }, (_, i) => i));
  const pieceMs = PIECE_BYTES / ORIGIN_BYTES_PER_MS;
  assert.ok(Math.abs(landings[0].atMs - (2 * ORIGIN_RTT_MS + pieceMs)) < 0.01 * pieceMs, `piece 0 at ${landings[0].atMs} ms`);
  const lastMs = landings[PIECES - 1].atMs;
  assert.ok(Math.abs(lastMs - (2 * ORIGIN_RTT_MS + PIECES * pieceMs)) < 0.01 * pieceMs, `last piece at ${lastMs} ms: the stream paused between pieces`);
  assert.is(result.originEgressBytes, result.fileSizeBytes, 'the origin sends one copy');
});

test('a lost cached piece is fetched again as a run of its own, one round trip and one piece later', () => {
  const landings: { piece: number; atMs: number }[] = [];
  const record = recordLandings(landings);
  let lostAtMs = -1;
  const { result } = runDragonflyOpen(scenario(2, '100Mbit'), (run) => {
    record(run);
    if (lostAtMs < 0 && run.cdn.stored(0)?.full) {
      lostAtMs = run.sim.nowMs;
      run.supernodes.apply(0, { kind: 'cdn-piece-lost', taskId: TASK_ID, piece: 5 });
      record(run);
    }
  });
  assert.ok(lostAtMs > 0, 'the cache never filled');
  const again = landings.filter((l) => l.piece === 5);
  assert.is(again.length, 2, 'piece 5 landed twice');
  const expectedMs = lostAtMs + ORIGIN_RTT_MS + PIECE_BYTES / ORIGIN_BYTES_PER_MS;
  assert.ok(Math.abs(again[1].atMs - expectedMs) < 0.01, `refetched at ${again[1].atMs} ms, expected ${expectedMs}`);
  assert.is(result.originEgressBytes, result.fileSizeBytes + PIECE_BYTES, 'the origin sent the file once and the lost piece again');
  assert.is(result.completedHosts, 4);
});

test.run();
