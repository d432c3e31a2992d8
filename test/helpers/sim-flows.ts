/** Run a fixed set of flows through the fluid network under one sharing rule (for tests). */
import { EventQueue } from '../../sim/event-queue.ts';
import { Network, type SharingRule } from '../../sim/network.ts';

export interface FlowSpec { src: number; dst: number; sizeBytes: number; startMs: number; capBps: number }
export interface NodeSpec { upBps: number; downBps: number }

const START = 0;
const DONE = 1;

/** Finish time of every flow; throws if a node is ever above its capacity. */
export function runFlows(nodes: NodeSpec[], flows: FlowSpec[], rule: SharingRule): number[] {
  const queue = new EventQueue();
  const network = new Network((timeMs, flowId) => queue.push(timeMs, flowId * 2 + DONE), rule);
  for (const n of nodes) network.addNode(n.upBps, n.downBps);
  flows.forEach((f, i) => queue.push(f.startMs, i * 2 + START));
  const finishMs = new Array<number>(flows.length).fill(NaN);
  while (queue.size > 0) {
    const payload = queue.pop();
    const nowMs = queue.poppedTimeMs;
    const index = payload >> 1;
    if ((payload & 1) === START) {
      const f = flows[index];
      network.startFlow(nowMs, f.src, f.dst, f.sizeBytes, f.capBps, index);
    } else {
      if (!network.isDue(index, nowMs)) continue;
      finishMs[network.tag(index)] = nowMs;
      network.finishFlow(nowMs, index);
    }
    assertWithinCapacity(network);
  }
  return finishMs;
}

export function assertWithinCapacity(network: Network): void {
  for (let n = 0; n < network.nodeCount; n++) {
    const load = network.loadBps(n);
    if (load.upBps > network.nodeUpBps(n) * (1 + 1e-9) || load.downBps > network.nodeDownBps(n) * (1 + 1e-9)) {
      throw new Error(`node ${n} over capacity: up ${load.upBps}/${network.nodeUpBps(n)}, down ${load.downBps}/${network.nodeDownBps(n)}`);
    }
  }
}
