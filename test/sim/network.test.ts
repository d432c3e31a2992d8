import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { EventQueue } from '../../sim/event-queue.ts';
import { maxMinRates } from '../../sim/max-min.ts';
import { Network } from '../../sim/network.ts';
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

test('local rule: never over capacity, never beats the lone-flow bound, and on random small swarms finishes with max-min on average', () => {
  const ratios: number[] = [];
  checkProperty(import.meta.url, 'local-vs-max-min', fc.property(swarm, ({ nodes, flows: raw }) => {
    const flows = toFlows(raw, nodes.length);
    const local = runFlows(nodes as NodeSpec[], flows, 'local');
    const reference = runFlows(nodes as NodeSpec[], flows, 'max-min');
    flows.forEach((f, i) => {
      const alone = Math.min(nodes[f.src].upBps, nodes[f.dst].downBps, f.capBps || Infinity);
      assert.ok(local[i] >= f.startMs + f.sizeBytes / alone * 1000 - 1e-6, `flow ${i} finished faster than its bottleneck allows`);
    });
    ratios.push(Math.max(...local) / Math.max(...reference));
  }), { numRuns: 150 });
  // The makespan ratio is not bounded swarm by swarm (see the next test: 1.33 x on three flows),
  // so what is held is the distribution: 20 x 150 random swarms gave a mean of 1.000-1.002 and
  // at most 1.19, none over 1.25.
  ratios.sort((a, b) => a - b);
  const mean = ratios.reduce((sum, r) => sum + r, 0) / ratios.length;
  const over = ratios.filter((r) => r > 1.25).length;
  console.log(`  local/max-min makespan ratio over ${ratios.length} swarms: median ${ratios[ratios.length >> 1].toFixed(3)}, mean ${mean.toFixed(4)}, worst ${ratios[ratios.length - 1].toFixed(3)}`);
  assert.ok(mean <= 1.02, `mean makespan ratio ${mean.toFixed(4)} over 1.02`);
  assert.ok(over <= 3, `${over} of ${ratios.length} swarms over 1.25 x max-min`);
});

test('local rule: where one round leaves a sender\'s slack unused (the known gap to max-min)', () => {
  // Node 1 (4 MB/s up) sends to node 2 (3 MB/s down; flow capped at 3 MB/s) and to node 0
  // (1 MB/s down). Max-min: 3 + 1, both done at 4 s. The local rule asks node 2's downlink for
  // node 1's equal share, 2 MB/s, so the flow to node 2 runs at 2 MB/s while node 1's uplink has
  // 1 MB/s spare, and at 3 MB/s only once the other flow ends: 8 MB by 4 s, the last 4 MB by 5.33 s.
  const nodes = [{ upBps: 1 * MB, downBps: 1 * MB }, { upBps: 4 * MB, downBps: 4 * MB }, { upBps: 1 * MB, downBps: 3 * MB }];
  const flows = [
    { src: 1, dst: 2, sizeBytes: 12 * MB, startMs: 0, capBps: 3 * MB },
    { src: 1, dst: 0, sizeBytes: 4 * MB, startMs: 0, capBps: 0 },
    { src: 0, dst: 1, sizeBytes: 1 * MB, startMs: 0, capBps: 1 * MB },
  ];
  const local = runFlows(nodes, flows, 'local');
  const reference = runFlows(nodes, flows, 'max-min');
  assert.equal(reference.map((ms) => Math.round(ms)), [4000, 4000, 1000]);
  assert.equal(local.map((ms) => Math.round(ms)), [5333, 4000, 1000]);
});

/** The local rule computed from scratch over every live flow (the definition in network.ts). */
function localRuleRates(network: Network, flowIds: number[]): Map<number, number> {
  const outOf = new Map<number, number[]>();
  const inOf = new Map<number, number[]>();
  for (const f of flowIds) {
    (outOf.get(network.flowSrc(f)) ?? outOf.set(network.flowSrc(f), []).get(network.flowSrc(f))!).push(f);
    (inOf.get(network.flowDst(f)) ?? inOf.set(network.flowDst(f), []).get(network.flowDst(f))!).push(f);
  }
  const fill = (capacity: number, demands: number[]): number[] => {
    const alloc = new Array<number>(demands.length).fill(NaN);
    let remaining = capacity;
    let open = demands.length;
    while (open > 0) {
      const share = remaining / open;
      const fits = demands.map((d, i) => Number.isNaN(alloc[i]) && d <= share);
      if (!fits.some(Boolean)) { alloc.forEach((a, i) => { if (Number.isNaN(a)) alloc[i] = share; }); break; }
      fits.forEach((fit, i) => { if (fit) { alloc[i] = demands[i]; remaining -= demands[i]; open--; } });
    }
    return alloc;
  };
  const up = new Map<number, number>();
  const down = new Map<number, number>();
  for (const [node, flows] of outOf) {
    const demands = flows.map((f) => Math.min(network.flowCapBps(f), network.nodeDownBps(network.flowDst(f)) / inOf.get(network.flowDst(f))!.length));
    fill(network.nodeUpBps(node), demands).forEach((a, i) => up.set(flows[i], a));
  }
  for (const [node, flows] of inOf) {
    const demands = flows.map((f) => Math.min(network.flowCapBps(f), network.nodeUpBps(network.flowSrc(f)) / outOf.get(network.flowSrc(f))!.length));
    fill(network.nodeDownBps(node), demands).forEach((a, i) => down.set(flows[i], a));
  }
  return new Map(flowIds.map((f) => [f, Math.min(up.get(f)!, down.get(f)!)]));
}

test('local rule: re-rating only what a change can affect gives the same rates as computing every flow from scratch', () => {
  checkProperty(import.meta.url, 'local-incremental', fc.property(swarm, ({ nodes, flows: raw }) => {
    const flows = toFlows(raw, nodes.length);
    const queue = new EventQueue();
    const network = new Network((timeMs, flowId) => queue.push(timeMs, flowId * 2 + 1), 'local');
    for (const n of nodes) network.addNode(n.upBps, n.downBps);
    flows.forEach((f, i) => queue.push(f.startMs, i * 2));
    const live = new Set<number>();
    while (queue.size > 0) {
      const payload = queue.pop();
      const nowMs = queue.poppedTimeMs;
      if ((payload & 1) === 0) {
        const f = flows[payload >> 1];
        live.add(network.startFlow(nowMs, f.src, f.dst, f.sizeBytes, f.capBps, payload >> 1));
      } else {
        const id = payload >> 1;
        if (!network.isDue(id, nowMs)) continue;
        network.finishFlow(nowMs, id);
        live.delete(id);
      }
      const expected = localRuleRates(network, [...live]);
      for (const [id, rate] of expected) {
        assert.ok(Math.abs(network.flowRateBps(id) - rate) <= 1e-9 * rate, `flow ${id}: ${network.flowRateBps(id)} vs ${rate} from scratch at ${nowMs} ms`);
        // What the rule guarantees each flow: its equal share at both ends (water-filling gives every flow at least that).
        const src = network.flowSrc(id);
        const dst = network.flowDst(id);
        const equalShare = Math.min(network.flowCapBps(id), network.nodeUpBps(src) / network.outFlowCount(src), network.nodeDownBps(dst) / network.inFlowCount(dst));
        assert.ok(network.flowRateBps(id) >= equalShare * (1 - 1e-9), `flow ${id}: ${network.flowRateBps(id)} below its equal share ${equalShare} at ${nowMs} ms`);
      }
    }
  }), { numRuns: 150 });
});

test('local rule: the fills a change cannot move are skipped without changing one event or one rate', () => {
  checkProperty(import.meta.url, 'local-skipped-fills', fc.property(swarm, fc.boolean(), ({ nodes, flows: raw }, slowPeer) => {
    const flows = toFlows(raw, nodes.length);
    const trace = (skip: boolean): string[] => {
      const queue = new EventQueue();
      const network = new Network((timeMs, flowId) => queue.push(timeMs, flowId * 3 + 1), 'local');
      network.skipUnneededRefills = skip;
      for (const n of nodes) network.addNode(n.upBps, n.downBps);
      flows.forEach((f, i) => queue.push(f.startMs, i * 3));
      // A node slowing down midway: a capacity change re-rates both sides of it in full.
      if (slowPeer) queue.push(2500, 2);
      const out: string[] = [];
      while (queue.size > 0) {
        const payload = queue.pop();
        const nowMs = queue.poppedTimeMs;
        if (payload % 3 === 0) {
          const f = flows[payload / 3];
          network.startFlow(nowMs, f.src, f.dst, f.sizeBytes, f.capBps, payload / 3);
        } else if (payload % 3 === 2) {
          network.setCapacity(nowMs, 0, network.nodeUpBps(0) / 3, network.nodeDownBps(0) / 2);
        } else {
          const id = (payload - 1) / 3;
          if (!network.isDue(id, nowMs)) continue;
          network.finishFlow(nowMs, id);
        }
        const loads: number[] = [];
        for (let n = 0; n < network.nodeCount; n++) loads.push(network.loadBps(n).upBps, network.loadBps(n).downBps);
        out.push(`${nowMs} ${payload} ${loads.join(',')}`);
      }
      return out;
    };
    assert.equal(trace(true), trace(false));
  }), { numRuns: 300 });
});

test.run();
