import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { planPieces } from '../../core/pieces.ts';
import { run, smallScenario } from '../helpers/sim-run.ts';

// sim/engine.ts eventsByKind: every fired event counted once under its kind; superseded flow
// completions apart. bench:sim divides these by hosts x pieces.

test('dragonfly: the kinds add up to the events, and every piece costs a pull, a request, a first byte and a last', () => {
  const hosts = 12;
  const result = run(smallScenario({ seed: 3, fileSize: '24MiB', hosts: { count: hosts, up: '200Mbit', down: '1Gbit' }, core: { pieceSizeBytes: '1MiB' } }), 'dragonfly');
  const kinds = result.eventsByKind;
  const fired = Object.entries(kinds).filter(([kind]) => kind !== 'stale-flow-done').reduce((sum, [, n]) => sum + n, 0);
  assert.is(fired, result.events);
  assert.is(result.completedHosts, hosts);
  const hostPieces = hosts * planPieces(24 * 1024 * 1024, 1024 * 1024).pieceCount;
  // Failure-free: each host-piece is one fetch (a request, a flow start, a piece flow's end); the CDN's pieces end flows too.
  assert.is(kinds['piece-request'], hostPieces);
  assert.is(kinds['flow-start'], hostPieces);
  assert.ok(kinds['flow-done'] >= hostPieces, `flow-done ${kinds['flow-done']} < ${hostPieces} host-pieces`);
  assert.ok(kinds['peer-to-supernode'] > 0 && kinds['to-peer'] > 0, JSON.stringify(kinds));
  assert.is(kinds.arrive, hosts);
});

test('registry: one arrival, one flow start and one flow end per host', () => {
  const result = run(smallScenario({ seed: 3, fileSize: '8MiB', hosts: { count: 5, up: '200Mbit', down: '1Gbit' } }), 'registry');
  assert.is(result.eventsByKind.arrive, 5);
  assert.is(result.eventsByKind['flow-start'], 5);
  assert.is(result.eventsByKind['flow-done'], 5);
});

test.run();
