import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { run, smallScenario } from '../../../helpers/sim-run.ts';

const doc = { fileSize: '16MiB', hosts: { count: 3, up: '100Mbit', down: '100Mbit' }, origin: { up: '100Mbit' }, core: { pieceSizeBytes: '1MiB' } };

test('hosts.pieceOverheadMs: each piece reaches its peer that much after its last byte, so every host ends later', () => {
  const ideal = run(smallScenario(doc), 'dragonfly');
  const slow = run(smallScenario({ ...doc, hosts: { ...doc.hosts, pieceOverheadMs: 50 } }), 'dragonfly');
  assert.is(slow.completedHosts, 3);
  assert.is(slow.originEgressBytes, ideal.originEgressBytes);
  // At least the last piece's overhead; at most every piece's, one after another.
  assert.ok(slow.completionMs.max >= ideal.completionMs.max + 50, `${slow.completionMs.max} vs ${ideal.completionMs.max}`);
  assert.ok(slow.completionMs.max <= ideal.completionMs.max + 16 * 50 + 1, `${slow.completionMs.max} vs ${ideal.completionMs.max}`);
  const again = run(smallScenario({ ...doc, hosts: { ...doc.hosts, pieceOverheadMs: 50 } }), 'dragonfly');
  assert.equal(again.completionMs, slow.completionMs, 'deterministic');
});

test.run();
