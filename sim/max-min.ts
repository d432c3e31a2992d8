/**
 * Reference bandwidth sharing: max-min fairness by progressive filling.
 *
 * Every unfrozen flow's rate rises at the same pace until some constraint saturates: a node's
 * upload capacity (shared by the flows it sends), a node's download capacity (shared by the
 * flows it receives) or a flow's own cap (a per-task rate limit). Flows crossing a saturated
 * constraint freeze at their current rate; the rest keep rising. The result is the unique
 * allocation in which no flow can get more without taking from a flow that has no more.
 * It costs O(rounds x (nodes + flows)) per call, so the network uses it on small swarms and as
 * the yardstick for the cheaper local rule (see network.ts and test/sim/network.test.ts).
 */
export interface FlowDemand {
  src: number;
  dst: number;
  /** Upper bound on this flow's rate (bytes/s); Infinity = none. */
  capBps: number;
}

const RELATIVE_EPSILON = 1e-9;

export function maxMinRates(flows: readonly FlowDemand[], upBps: ArrayLike<number>, downBps: ArrayLike<number>): Float64Array {
  const nodeCount = upBps.length;
  const rates = new Float64Array(flows.length);
  const frozen = new Uint8Array(flows.length);
  const remainingUp = Float64Array.from(upBps);
  const remainingDown = Float64Array.from(downBps);
  const activeUp = new Int32Array(nodeCount);
  const activeDown = new Int32Array(nodeCount);
  let unfrozen = 0;
  for (let f = 0; f < flows.length; f++) {
    if (flows[f].capBps <= 0) { frozen[f] = 1; continue; }
    activeUp[flows[f].src]++;
    activeDown[flows[f].dst]++;
    unfrozen++;
  }
  // Each round saturates at least one constraint, so there are at most nodes*2 + flows rounds.
  for (let round = 0; unfrozen > 0 && round <= 2 * nodeCount + flows.length; round++) {
    let increment = Infinity;
    for (let n = 0; n < nodeCount; n++) {
      if (activeUp[n] > 0) increment = Math.min(increment, remainingUp[n] / activeUp[n]);
      if (activeDown[n] > 0) increment = Math.min(increment, remainingDown[n] / activeDown[n]);
    }
    for (let f = 0; f < flows.length; f++) {
      if (!frozen[f]) increment = Math.min(increment, flows[f].capBps - rates[f]);
    }
    if (!Number.isFinite(increment)) throw new Error('max-min: a flow has no finite constraint (give every node a capacity)');
    for (let f = 0; f < flows.length; f++) {
      if (frozen[f]) continue;
      rates[f] += increment;
      remainingUp[flows[f].src] -= increment;
      remainingDown[flows[f].dst] -= increment;
    }
    for (let f = 0; f < flows.length; f++) {
      if (frozen[f]) continue;
      const { src, dst, capBps } = flows[f];
      const saturated = remainingUp[src] <= upBps[src] * RELATIVE_EPSILON
        || remainingDown[dst] <= downBps[dst] * RELATIVE_EPSILON
        || rates[f] >= capBps * (1 - RELATIVE_EPSILON);
      if (!saturated) continue;
      frozen[f] = 1;
      activeUp[src]--;
      activeDown[dst]--;
      unfrozen--;
    }
  }
  return rates;
}
