/**
 * Fluid network model: nodes with upload and download capacity, and flows between them.
 *
 * Theory of operation. A flow moves `sizeBytes` from `src` to `dst` at a rate that is constant
 * between changes of the flow set. Whenever a flow starts, ends or is cancelled, or a node's
 * capacity changes, the rates of the flows that may be affected are recomputed, each flow's
 * progress is settled at its old rate, and its completion is rescheduled through the driver's
 * `schedule(timeMs, flowId)`. Superseded completion events are not removed from the queue; the
 * driver asks `isDue(flowId, timeMs)` when one pops and drops it if the flow has since been
 * rescheduled or removed (lazy invalidation).
 *
 * Sharing rules:
 * - `max-min`: the reference. Every change recomputes every flow by progressive filling
 *   (max-min.ts). Exact, and O(flows x rounds) per change: small swarms only.
 * - `local` (the default, for scale): one round of water-filling at each end.
 *     demandAtSrc(f) = min(cap_f, down_dst / n_in(dst))   what f's receiver would grant it alone
 *     demandAtDst(f) = min(cap_f, up_src / n_out(src))    what f's sender would grant it alone
 *     upAlloc(f)     = water-fill of up_src over src's outgoing flows with demandAtSrc
 *     downAlloc(f)   = water-fill of down_dst over dst's incoming flows with demandAtDst
 *     rate(f)        = min(upAlloc(f), downAlloc(f))
 *   That is min(up_src/n_up(src), down_dst/n_down(dst)) with the slack of flows limited at the
 *   other end redistributed once. Allocations at a node never sum above its capacity, so no
 *   node is ever over capacity; some slack can stay unused (a flow limited at both ends by
 *   other flows' second-round gains). It depends only on flow counts one hop away, so a flow
 *   starting or ending between S and D recomputes S's uplink and its receivers' downlinks, D's
 *   downlink and its senders' uplinks (see recompute): O(degree^2).
 *   test/sim/network.test.ts measures its gap to max-min on small swarms and bounds it.
 *
 * Capacities are in bytes/s and must be finite and > 0 (a limit of "0 = unlimited" is resolved
 * by the scenario before it gets here). Per-flow caps model per-task rate limits.
 */
import { maxMinRates, type FlowDemand } from './max-min.ts';

export type SharingRule = 'local' | 'max-min';

const NO_CAP = Infinity;

export class Network {
  private upBps = new Float64Array(64);
  private downBps = new Float64Array(64);
  /** Flow counts per node, kept beside the lists so a neighbour's count costs no list access. */
  private outCount = new Int32Array(64);
  private inCount = new Int32Array(64);
  private nodes = 0;
  private outFlows: number[][] = [];
  private inFlows: number[][] = [];
  /** Bytes each node has sent / received over finished or cancelled flows. */
  sentBytes: number[] = [];
  receivedBytes: number[] = [];

  private capacity = 0;
  private src = new Int32Array(0);
  private dst = new Int32Array(0);
  private tags = new Int32Array(0);
  private alive = new Uint8Array(0);
  private sizeBytes = new Float64Array(0);
  private remainingBytes = new Float64Array(0);
  private ratesBps = new Float64Array(0);
  private capsBps = new Float64Array(0);
  private settledAtMs = new Float64Array(0);
  private etaMs = new Float64Array(0);
  private upAlloc = new Float64Array(0);
  private downAlloc = new Float64Array(0);
  private flowStamp = new Int32Array(0);
  private freeIds: number[] = [];
  private flowCount = 0;

  private upStamp: number[] = [];
  private downStamp: number[] = [];
  private epoch = 0;
  private touchedFlows = new Int32Array(64);
  private touchedCount = 0;
  private scratchDemand = new Float64Array(64);
  private scratchSettled = new Uint8Array(64);
  private scratchAlloc = new Float64Array(64);

  /** Cost figures for benchmarks: flow changes re-rated, flows re-rated, and re-ratings that moved a rate. */
  recomputes = 0;
  rateUpdates = 0;
  rateChanges = 0;

  constructor(private readonly schedule: (timeMs: number, flowId: number) => void, readonly rule: SharingRule = 'local') {}

  addNode(upBps: number, downBps: number): number {
    checkCapacity(upBps, 'upload');
    checkCapacity(downBps, 'download');
    if (this.nodes === this.upBps.length) {
      this.upBps = growFloat(this.upBps, 2 * this.nodes);
      this.downBps = growFloat(this.downBps, 2 * this.nodes);
      this.outCount = growInt(this.outCount, 2 * this.nodes);
      this.inCount = growInt(this.inCount, 2 * this.nodes);
    }
    this.upBps[this.nodes] = upBps;
    this.downBps[this.nodes] = downBps;
    this.outFlows.push([]);
    this.inFlows.push([]);
    this.sentBytes.push(0);
    this.receivedBytes.push(0);
    this.upStamp.push(0);
    this.downStamp.push(0);
    return this.nodes++;
  }

  get nodeCount(): number { return this.nodes; }
  get activeFlows(): number { return this.flowCount; }
  nodeUpBps(node: number): number { return this.upBps[node]; }
  nodeDownBps(node: number): number { return this.downBps[node]; }

  /** Change a node's capacity (a slow peer); its flows are re-rated from now on. */
  setCapacity(nowMs: number, node: number, upBps: number, downBps: number): void {
    checkCapacity(upBps, 'upload');
    checkCapacity(downBps, 'download');
    this.upBps[node] = upBps;
    this.downBps[node] = downBps;
    this.recompute(nowMs, node, node);
  }

  /** Start moving sizeBytes from src to dst now; capBps 0 = no per-flow cap. */
  startFlow(nowMs: number, src: number, dst: number, sizeBytes: number, capBps: number, tag: number): number {
    if (src === dst) throw new Error(`flow from node ${src} to itself`);
    if (!(sizeBytes > 0)) throw new Error(`flow size must be > 0 bytes, got ${sizeBytes}`);
    const id = this.allocate();
    this.src[id] = src;
    this.dst[id] = dst;
    this.tags[id] = tag;
    this.alive[id] = 1;
    this.sizeBytes[id] = sizeBytes;
    this.remainingBytes[id] = sizeBytes;
    this.ratesBps[id] = 0;
    this.capsBps[id] = capBps > 0 ? capBps : NO_CAP;
    this.settledAtMs[id] = nowMs;
    this.etaMs[id] = Infinity;
    this.outFlows[src].push(id);
    this.inFlows[dst].push(id);
    this.outCount[src]++;
    this.inCount[dst]++;
    this.flowCount++;
    this.recompute(nowMs, src, dst);
    return id;
  }

  /** True when a popped completion event for flowId at timeMs is current (not superseded). */
  isDue(flowId: number, timeMs: number): boolean {
    return this.alive[flowId] === 1 && this.etaMs[flowId] === timeMs;
  }

  tag(flowId: number): number { return this.tags[flowId]; }
  flowRateBps(flowId: number): number { return this.ratesBps[flowId]; }
  flowCapBps(flowId: number): number { return this.capsBps[flowId]; }
  flowSrc(flowId: number): number { return this.src[flowId]; }
  flowDst(flowId: number): number { return this.dst[flowId]; }
  flowSizeBytes(flowId: number): number { return this.sizeBytes[flowId]; }
  isAlive(flowId: number): boolean { return this.alive[flowId] === 1; }

  /** The flow delivered all its bytes: remove it and re-rate its neighbours. */
  finishFlow(nowMs: number, flowId: number): void {
    this.remove(nowMs, flowId, this.sizeBytes[flowId]);
  }

  /** Abort a flow (a crash, a cancelled fetch); returns the bytes it had delivered. */
  cancelFlow(nowMs: number, flowId: number): number {
    if (this.alive[flowId] !== 1) return 0;
    this.settle(nowMs, flowId);
    const delivered = this.sizeBytes[flowId] - this.remainingBytes[flowId];
    this.remove(nowMs, flowId, delivered);
    return delivered;
  }

  /**
   * End every flow at `nowMs` (the run stopped at its time limit): the bytes each had delivered
   * count as sent and received. Rates are not recomputed: nothing runs after this.
   */
  cutAll(nowMs: number): void {
    for (let f = 0; f < this.capacity; f++) {
      if (this.alive[f] !== 1) continue;
      this.settle(nowMs, f);
      const delivered = this.sizeBytes[f] - this.remainingBytes[f];
      this.sentBytes[this.src[f]] += delivered;
      this.receivedBytes[this.dst[f]] += delivered;
      this.alive[f] = 0;
    }
    for (let n = 0; n < this.nodes; n++) {
      this.outFlows[n].length = 0;
      this.inFlows[n].length = 0;
      this.outCount[n] = 0;
      this.inCount[n] = 0;
    }
    this.flowCount = 0;
  }

  /** Flow ids currently sending from / receiving at a node (a copy). */
  flowsAt(node: number): number[] {
    return [...this.outFlows[node], ...this.inFlows[node]];
  }

  /** Flows sending from / receiving at a node now. */
  outFlowCount(node: number): number { return this.outCount[node]; }
  inFlowCount(node: number): number { return this.inCount[node]; }

  /** Bytes of the flows now arriving at a node, whole (delivered or not): what it has on its way. */
  inFlightBytes(node: number): number {
    let bytes = 0;
    for (const f of this.inFlows[node]) bytes += this.sizeBytes[f];
    return bytes;
  }

  /** Sum of the current rates into a node (what it receives now; for measurements). */
  inRateBps(node: number): number {
    let down = 0;
    for (const f of this.inFlows[node]) down += this.ratesBps[f];
    return down;
  }

  /** Sum of the current rates out of a node. */
  outRateBps(node: number): number {
    let up = 0;
    for (const f of this.outFlows[node]) up += this.ratesBps[f];
    return up;
  }

  /** Sum of current rates out of / into a node (for invariant checkers). */
  loadBps(node: number): { upBps: number; downBps: number } {
    let up = 0;
    let down = 0;
    for (const f of this.outFlows[node]) up += this.ratesBps[f];
    for (const f of this.inFlows[node]) down += this.ratesBps[f];
    return { upBps: up, downBps: down };
  }

  private remove(nowMs: number, flowId: number, deliveredBytes: number): void {
    const s = this.src[flowId];
    const d = this.dst[flowId];
    this.sentBytes[s] += deliveredBytes;
    this.receivedBytes[d] += deliveredBytes;
    this.alive[flowId] = 0;
    removeValue(this.outFlows[s], flowId);
    removeValue(this.inFlows[d], flowId);
    this.outCount[s]--;
    this.inCount[d]--;
    this.freeIds.push(flowId);
    this.flowCount--;
    this.recompute(nowMs, s, d);
  }

  private settle(nowMs: number, f: number): void {
    const elapsedMs = nowMs - this.settledAtMs[f];
    if (elapsedMs > 0) {
      this.remainingBytes[f] = Math.max(0, this.remainingBytes[f] - this.ratesBps[f] * elapsedMs / 1000);
    }
    this.settledAtMs[f] = nowMs;
  }

  private setRate(nowMs: number, f: number, rateBps: number): void {
    this.rateUpdates++;
    if (rateBps === this.ratesBps[f] && this.etaMs[f] !== Infinity) return;
    this.rateChanges++;
    this.settle(nowMs, f);
    this.ratesBps[f] = rateBps;
    const eta = rateBps > 0 ? nowMs + this.remainingBytes[f] * 1000 / rateBps : Infinity;
    this.etaMs[f] = eta;
    if (eta !== Infinity) this.schedule(eta, f);
  }

  /**
   * Re-rate what a change can affect. A flow from `src` to `dst` started or ended: src's
   * outgoing flows share its uplink differently (refill up at src) and each of them now asks
   * its receiver for another share (refill down at each receiver); likewise dst's incoming
   * flows (refill down at dst, up at each sender). src's own downloads and dst's own uploads are
   * untouched: their allocations depend on flow counts that did not change. A capacity change
   * at a node (src === dst) refills both sides of it and every neighbour.
   */
  private recompute(nowMs: number, src: number, dst: number): void {
    this.recomputes++;
    if (this.rule === 'max-min') {
      this.recomputeAll(nowMs);
      return;
    }
    const epoch = ++this.epoch;
    this.touchedCount = 0;
    if (src === dst) {
      this.refillSenderSide(src, epoch);
      this.refillReceiverSide(src, epoch);
    } else {
      this.refillSenderSide(src, epoch);
      this.refillReceiverSide(dst, epoch);
    }
    const touched = this.touchedFlows;
    for (let i = 0; i < this.touchedCount; i++) {
      const f = touched[i];
      const up = this.upAlloc[f];
      const down = this.downAlloc[f];
      this.setRate(nowMs, f, up < down ? up : down);
    }
  }

  /** x's uplink, and the downlink of every receiver of x (each of x's flows asks it for a new share). */
  private refillSenderSide(x: number, epoch: number): void {
    this.refillUp(x, epoch);
    const out = this.outFlows[x];
    const dst = this.dst;
    for (let i = 0; i < out.length; i++) this.refillDown(dst[out[i]], epoch);
  }

  /** x's downlink, and the uplink of every sender to x. */
  private refillReceiverSide(x: number, epoch: number): void {
    this.refillDown(x, epoch);
    const inbound = this.inFlows[x];
    const src = this.src;
    for (let i = 0; i < inbound.length; i++) this.refillUp(src[inbound[i]], epoch);
  }

  // refillUp and refillDown read the arrays into locals once: these two loops run for every flow
  // next to every change, and a field load per element cost more than the arithmetic.
  private refillUp(node: number, epoch: number): void {
    if (this.upStamp[node] === epoch) return;
    this.upStamp[node] = epoch;
    const flows = this.outFlows[node];
    const k = flows.length;
    const demand = this.demandScratch(k);
    const dst = this.dst;
    const downBps = this.downBps;
    const inCount = this.inCount;
    const caps = this.capsBps;
    let total = 0;
    for (let i = 0; i < k; i++) {
      const f = flows[i];
      const d = dst[f];
      const share = downBps[d] / inCount[d];
      const cap = caps[f];
      const wanted = share < cap ? share : cap;
      demand[i] = wanted;
      total += wanted;
    }
    this.waterFill(this.upBps[node], flows, demand, total, this.upAlloc, epoch);
  }

  private refillDown(node: number, epoch: number): void {
    if (this.downStamp[node] === epoch) return;
    this.downStamp[node] = epoch;
    const flows = this.inFlows[node];
    const k = flows.length;
    const demand = this.demandScratch(k);
    const src = this.src;
    const upBps = this.upBps;
    const outCount = this.outCount;
    const caps = this.capsBps;
    let total = 0;
    for (let i = 0; i < k; i++) {
      const f = flows[i];
      const s = src[f];
      const share = upBps[s] / outCount[s];
      const cap = caps[f];
      const wanted = share < cap ? share : cap;
      demand[i] = wanted;
      total += wanted;
    }
    this.waterFill(this.downBps[node], flows, demand, total, this.downAlloc, epoch);
  }

  private demandScratch(k: number): Float64Array {
    if (this.scratchDemand.length < k) {
      this.scratchDemand = new Float64Array(2 * k);
      this.scratchSettled = new Uint8Array(2 * k);
      this.scratchAlloc = new Float64Array(2 * k);
    }
    return this.scratchDemand;
  }

  /**
   * Split capacityBps over flows, max-min at this one node: demands below the equal share are
   * met in full and their leftover is shared by the rest, round after round. Each round fixes
   * at least one flow; in practice one to three rounds, without sorting. When the demands fit
   * (the common case at a node that is not the bottleneck) each flow simply gets its demand.
   * Only flows whose allocation changed are handed to recompute for re-rating.
   */
  private waterFill(capacityBps: number, flows: number[], demand: Float64Array, totalDemand: number, alloc: Float64Array, epoch: number): void {
    const k = flows.length;
    const next = totalDemand <= capacityBps ? demand : this.scratchAlloc;
    if (next !== demand) {
      const settled = this.scratchSettled;
      for (let i = 0; i < k; i++) settled[i] = 0;
      let remaining = capacityBps;
      let open = k;
      while (open > 0) {
        const share = remaining / open;
        let fixedThisRound = 0;
        for (let i = 0; i < k; i++) {
          if (settled[i] === 0 && demand[i] <= share) {
            settled[i] = 1;
            next[i] = demand[i];
            remaining -= demand[i];
            fixedThisRound++;
          }
        }
        open -= fixedThisRound;
        if (fixedThisRound === 0) {
          for (let i = 0; i < k; i++) if (settled[i] === 0) next[i] = share;
          break;
        }
      }
    }
    const rates = this.ratesBps;
    const stamp = this.flowStamp;
    for (let i = 0; i < k; i++) {
      const f = flows[i];
      const value = next[i];
      if (alloc[f] === value && rates[f] > 0) continue;
      alloc[f] = value;
      if (stamp[f] !== epoch) {
        stamp[f] = epoch;
        if (this.touchedCount === this.touchedFlows.length) this.touchedFlows = growInt(this.touchedFlows, 2 * this.touchedCount);
        this.touchedFlows[this.touchedCount++] = f;
      }
    }
  }

  private recomputeAll(nowMs: number): void {
    const ids: number[] = [];
    const demands: FlowDemand[] = [];
    for (let f = 0; f < this.capacity; f++) {
      if (this.alive[f] !== 1) continue;
      ids.push(f);
      demands.push({ src: this.src[f], dst: this.dst[f], capBps: this.capsBps[f] });
    }
    const rates = maxMinRates(demands, this.upBps.subarray(0, this.nodes), this.downBps.subarray(0, this.nodes));
    for (let i = 0; i < ids.length; i++) this.setRate(nowMs, ids[i], rates[i]);
  }

  private allocate(): number {
    const reused = this.freeIds.pop();
    if (reused !== undefined) return reused;
    if (this.capacity === this.src.length) this.grow();
    return this.capacity++;
  }

  private grow(): void {
    const size = Math.max(64, this.src.length * 2);
    this.src = growInt(this.src, size);
    this.dst = growInt(this.dst, size);
    this.tags = growInt(this.tags, size);
    this.flowStamp = growInt(this.flowStamp, size);
    const alive = new Uint8Array(size);
    alive.set(this.alive);
    this.alive = alive;
    this.sizeBytes = growFloat(this.sizeBytes, size);
    this.remainingBytes = growFloat(this.remainingBytes, size);
    this.ratesBps = growFloat(this.ratesBps, size);
    this.capsBps = growFloat(this.capsBps, size);
    this.settledAtMs = growFloat(this.settledAtMs, size);
    this.etaMs = growFloat(this.etaMs, size);
    this.upAlloc = growFloat(this.upAlloc, size);
    this.downAlloc = growFloat(this.downAlloc, size);
  }
}

function checkCapacity(bps: number, what: string): void {
  if (!(bps > 0) || !Number.isFinite(bps)) throw new Error(`node ${what} capacity must be a finite rate > 0 bytes/s, got ${bps}`);
}

function removeValue(list: number[], value: number): void {
  const i = list.indexOf(value);
  if (i < 0) return;
  list[i] = list[list.length - 1];
  list.pop();
}

function growInt(old: Int32Array<ArrayBuffer>, size: number): Int32Array<ArrayBuffer> {
  const next = new Int32Array(size);
  next.set(old);
  return next;
}

function growFloat(old: Float64Array<ArrayBuffer>, size: number): Float64Array<ArrayBuffer> {
  const next = new Float64Array(size);
  next.set(old);
  return next;
}
