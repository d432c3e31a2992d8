import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { maxMinRates } from '../../sim/max-min.ts';
import { runFlows, type FlowSpec, type NodeSpec } from '../helpers/sim-flows.ts';
import { checkProperty } from '../helpers/fc-rerun.ts';

const MB = 1e6;

test('max-min: textbook example (one shared sender, one capped flow)', () => {
  // Node 0 sends to 1, 2, 3 with 30 MB/s up; flow to 3 capped at 4 MB/s; node 2 receives at 6 MB/s.
  const rates = maxMinRates(
    [{ src: 0, dst: 1, capBps: Infinity }, { src: 0, dst: 2, capBps: Infinity }, { src: 0, dst: 3, capBps: 4 * MB }],
    [30 * MB, 1, 1, 1], [1, 100 * MB, 6 * MB, 100 * MB]);
  assert.equal([...rates].map((r) => Math.round(r / MB)), [20, 6, 4]);
});

test('a single flow finishes after size / bottleneck', () => {
  for (const rule of ['local', 'max-min'] as const) {
    const [finish] = runFlows([{ upBps: 10 * MB, downBps: 1 }, { upBps: 1, downBps: 5 * MB }],
      [{ src: 0, dst: 1, sizeBytes: 50 * MB, startMs: 100, capBps: 0 }], rule);
    assert.ok(Math.abs(finish - 10_100) < 1e-6, `${rule}: ${finish}`);
  }
});

const swarm = fc.integer({ min: 3, max: 12 }).chain((nodeCount) => fc.record({
  nodes: fc.array(fc.record({ upBps: fc.integer({ min: 1, max: 100 }).map((x) => x * MB), downBps: fc.integer({ min: 1, max: 100 }).map((x) => x * MB) }),
    { minLength: nodeCount, maxLength: nodeCount }),
  flows: fc.array(fc.record({
    src: fc.integer({ min: 0, max: nodeCount - 1 }),
    hop: fc.integer({ min: 1, max: nodeCount - 1 }),
    sizeBytes: fc.integer({ min: 1, max: 100 }).map((x) => x * MB),
    startMs: fc.integer({ min: 0, max: 5000 }),
    capBps: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 50 }).map((x) => x * MB)),
  }), { minLength: 1, maxLength: 40 }),
}));

function toFlows(raw: { src: number; hop: number; sizeBytes: number; startMs: number; capBps: number }[], n: number): FlowSpec[] {
  return raw.map((f) => ({ src: f.src, dst: (f.src + f.hop) % n, sizeBytes: f.sizeBytes, startMs: f.startMs, capBps: f.capBps }));
}

test('local rule: never over capacity, never beats the lone-flow bound, and its makespan stays within 1.25x of max-min', () => {
  const ratios: number[] = [];
  checkProperty(import.meta.url, 'local-vs-max-min', fc.property(swarm, ({ nodes, flows: raw }) => {
    const flows = toFlows(raw, nodes.length);
    const local = runFlows(nodes as NodeSpec[], flows, 'local');
    const reference = runFlows(nodes as NodeSpec[], flows, 'max-min');
    flows.forEach((f, i) => {
      const alone = Math.min(nodes[f.src].upBps, nodes[f.dst].downBps, f.capBps || Infinity);
      assert.ok(local[i] >= f.startMs + f.sizeBytes / alone * 1000 - 1e-6, `flow ${i} finished faster than its bottleneck allows`);
    });
    const ratio = Math.max(...local) / Math.max(...reference);
    ratios.push(ratio);
    assert.ok(ratio <= 1.25, `local makespan ${ratio.toFixed(3)}x max-min`);
  }), { numRuns: 150 });
  ratios.sort((a, b) => a - b);
  console.log(`  local/max-min makespan ratio over ${ratios.length} swarms: median ${ratios[ratios.length >> 1].toFixed(3)}, worst ${ratios[ratios.length - 1].toFixed(3)}`);
});

test.run();
