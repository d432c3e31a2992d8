import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GapMeter } from '../../sim/gap.ts';
import { run, smallScenario } from '../helpers/sim-run.ts';
import { buildWorld } from '../../sim/world.ts';

function measured(doc: Record<string, unknown>, strategy: 'dragonfly' | 'cdn-only' = 'dragonfly') {
  const scenario = smallScenario(doc);
  const meter = new GapMeter(buildWorld(scenario).lowerBoundMs / 2000);
  const result = run(scenario, strategy, meter.hooks());
  return { result, gap: meter.report() };
}

const total = (l: { originBoundMs: number; idleMs: number; sharedMs: number; tailIdleMs: number; tailSharedMs: number }) =>
  l.originBoundMs + l.idleMs + l.sharedMs + l.tailIdleMs + l.tailSharedMs;

test('gap: the last host\'s losses add up to its finish beyond its own bound (up to sampling error)', () => {
  for (const seed of [1, 2, 3]) {
    const { result, gap } = measured({ seed, hosts: { count: 12, up: { choice: [{ value: '100Mbit' }, { value: '1Gbit' }] }, down: '1Gbit' } });
    assert.is(gap.lastMs, result.completionMs.max);
    assert.ok(Math.abs(gap.last.unexplainedMs) <= 0.03 * gap.lastMs, `seed ${seed}: ${gap.last.unexplainedMs.toFixed(1)} ms unexplained of ${gap.lastMs.toFixed(1)}`);
    assert.ok(Math.abs(gap.last.ownBoundMs + total(gap.last) + gap.last.unexplainedMs - gap.lastMs) < 1e-6);
  }
});

test('gap: a slow origin makes the time origin-bound; a slow supernode serving everyone makes it shared', () => {
  // Uncapped supernode copies: every host gets each new piece from the CDN at once.
  const slowOrigin = measured({ hosts: { count: 6 }, origin: { up: '200Mbit' }, core: { supernodeCopiesPerPiece: 0 } }).gap;
  assert.ok(slowOrigin.last.originBoundMs > 0.8 * total(slowOrigin.last), JSON.stringify(slowOrigin.last));
  assert.ok(slowOrigin.originUploadIdleFraction < 0.05, `the origin sends all the time: ${slowOrigin.originUploadIdleFraction}`);
  const slowSupernode = measured({ hosts: { count: 6 }, supernodes: { up: '300Mbit' } }, 'cdn-only').gap;
  const shared = slowSupernode.last.sharedMs + slowSupernode.last.tailSharedMs;
  assert.ok(shared > 0.7 * total(slowSupernode.last), JSON.stringify(slowSupernode.last));
  assert.ok(slowSupernode.hostUploadIdleFraction > 0.99, 'cdn-only hosts upload nothing');
});

test.run();
