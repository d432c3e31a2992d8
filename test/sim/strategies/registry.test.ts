import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { run, smallScenario } from '../../helpers/sim-run.ts';

test('registry with the origin as bottleneck finishes in N·F/u_origin (within 2 %)', () => {
  const n = 40;
  const fileBytes = 64 * 1024 * 1024;
  const originBps = 100e6 / 8;
  const result = run(smallScenario({ fileSize: '64MiB', hosts: { count: n, up: '1Gbit', down: '1Gbit' }, origin: { up: '100Mbit' } }), 'registry');
  const expectedMs = (n * fileBytes) / originBps * 1000;
  const ratio = result.completionMs.max / expectedMs;
  assert.ok(Math.abs(ratio - 1) <= 0.02, `finished at ${result.completionMs.max.toFixed(0)} ms, expected ${expectedMs.toFixed(0)} ms (ratio ${ratio.toFixed(4)})`);
  assert.is(result.originEgressBytes, n * fileBytes);
});

test('registry is never faster than the lower bound, and a crashed host stops its download', () => {
  const result = run(smallScenario({ hosts: { count: 5 }, faults: [{ kind: 'host-crash', hosts: [2], atMs: 10 }] }), 'registry');
  assert.is(result.crashedHosts, 1);
  assert.is(result.completedHosts, 4);
  assert.ok(result.completionMs.max >= result.lowerBoundMs);
});

test.run();
