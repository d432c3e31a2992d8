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
 *   Every flow gets at least its equal share at both ends, min(cap, up_src / n_out(src),
 *   down_dst / n_in(dst)); beyond that, slack is not always passed on: a sender whose other flow
 *   is held down at its receiver keeps the spare uplink from a flow whose receiver could take it
 *   (three flows where the makespan is 1.33 x max-min's). test/sim/network.test.ts checks the
 *   guarantee at every change and the gap to max-min over random small swarms (mean 1.00-1.01).
 *
 * Capacities are in bytes/s and must be finite and > 0 (a limit of "0 = unlimited" is resolved
 * by the scenario before it gets here). Per-flow caps model per-task rate limits.
 */
import { maxMinRates, type FlowDemand } from './max-min.ts';

export type SharingRule = 'local' | 'max-min';

const NO_CAP = Infinity;

/**
 * Per-flow record (`flowRec`, Float64Array, FLOW_STRIDE slots a flow): what re-rating reads for
 * every flow next to a change, in one cache line. DEMAND_UP / DEMAND_DOWN keep what the flow last
 * asked of its sender's uplink (min(cap, its receiver's downlink / flows in)) and of its
 * receiver's downlink (min(cap, its sender's uplink / flows out)): a change at S -> D moves only
 * the demands of flows into D and out of S, so re-rating computes those afresh and reads the
 * rest from here (the same numbers, not reread from two more nodes' records per flow).
 */
const F_SRC = 0;
const F_DST = 1;
const F_DEMAND_UP = 2;
const F_DEMAND_DOWN = 3;
const F_UP = 4;
const F_DOWN = 5;
const F_RATE = 6;
const F_STAMP = 7;
const FLOW_STRIDE = 8;
/** The rest of a flow (`flowProg`, Float64Array, PROG_STRIDE slots a flow): its cap, completion time and progress. */
const P_CAP = 0;
const P_ETA = 1;
const P_REMAINING = 2;
const P_SETTLED_AT = 3;
const P_SIZE = 4;
const PROG_STRIDE = 8;
/** Per-node record (`nodeRec`, Int32Array, NODE_STRIDE slots a node): flow counts, stamps, list segments. */
const N_OUT_COUNT = 0;
const N_IN_COUNT = 1;
const N_UP_STAMP = 2;
const N_DOWN_STAMP = 3;
const N_OUT_AT = 4;
const N_OUT_CAP = 5;
const N_IN_AT = 6;
const N_IN_CAP = 7;
const NODE_STRIDE = 8;
/** Slots a node's flow list gets at first (lists double, moving to the end of the pool). */
const FIRST_LIST_CAP = 4;

export class Network {
  // State is kept in a few flat typed arrays, a record per flow and per node, rather than an
  // array per field: re-rating visits every flow next to a change, and at 10,000 hosts each
  // field array was its own cache miss per flow (a flow record is one cache line).
  private upBps = new Float64Array(64);
  private downBps = new Float64Array(64);
  /**
   * Per node, the water level of its last uplink / downlink fill when that fill was short of
   * capacity (every flow not below the level got exactly the level), else NaN. See `refillUnneeded`.
   */
  private upLevel = new Float64Array(64).fill(NaN);
  private downLevel = new Float64Array(64).fill(NaN);
  /** Per node, capacity minus the demands at its last uplink / downlink fill when they fitted, else NaN. */
  private upSlack = new Float64Array(64).fill(NaN);
  private downSlack = new Float64Array(64).fill(NaN);
  /** Per node: outCount, inCount, upStamp, downStamp, then where its out and in lists sit in `lists` and their room. */
  private nodeRec = new Int32Array(64 * NODE_STRIDE);
  /**
   * Every node's outgoing and incoming flow ids, each list a segment of this pool: appended at
   * the end, removed by moving the last one into its place (so the order is that of a plain
   * array used the same way). A full list moves to a segment twice as long at the pool's end.
   */
  private lists = new Int32Array(1024);
  private listsUsed = 0;
  private nodes = 0;
  /** Bytes each node has sent / received over finished or cancelled flows. */
  sentBytes: number[] = [];
  receivedBytes: number[] = [];

  private capacity = 0;
  private flowRec = new Float64Array(0);
  private flowProg = new Float64Array(0);
  private tags = new Int32Array(0);
  private alive = new Uint8Array(0);
  private freeIds: number[] = [];
  private flowCount = 0;

  private epoch = 0;
  /** The nodes whose flow counts (or capacities) the change being re-rated moved: demands toward them are computed afresh. */
  private changedSrc = -1;
  private changedDst = -1;
  private touchedFlows = new Int32Array(64);
  private touchedCount = 0;
  private scratchDemand = new Float64Array(64);
  private scratchSettled = new Uint8Array(64);
  private scratchAlloc = new Float64Array(64);

  /** False: every fill a change reaches is run in full (tests compare the two, event for event). */
  skipUnneededRefills = true;
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
      this.upLevel = growFloat(this.upLevel, 2 * this.nodes).fill(NaN, this.nodes);
      this.downLevel = growFloat(this.downLevel, 2 * this.nodes).fill(NaN, this.nodes);
      this.upSlack = growFloat(this.upSlack, 2 * this.nodes).fill(NaN, this.nodes);
      this.downSlack = growFloat(this.downSlack, 2 * this.nodes).fill(NaN, this.nodes);
      this.nodeRec = growInt(this.nodeRec, 2 * this.nodes * NODE_STRIDE);
    }
    const node = this.nodes;
    this.upBps[node] = upBps;
    this.downBps[node] = downBps;
    const at = node * NODE_STRIDE;
    this.nodeRec[at + N_OUT_AT] = this.reserve(FIRST_LIST_CAP);
    this.nodeRec[at + N_OUT_CAP] = FIRST_LIST_CAP;
    this.nodeRec[at + N_IN_AT] = this.reserve(FIRST_LIST_CAP);
    this.nodeRec[at + N_IN_CAP] = FIRST_LIST_CAP;
    this.sentBytes.push(0);
    this.receivedBytes.push(0);
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
    const rec = this.flowRec;
    const at = id * FLOW_STRIDE;
    rec[at + F_SRC] = src;
    rec[at + F_DST] = dst;
    rec[at + F_RATE] = 0;
    const prog = this.flowProg;
    const pat = id * PROG_STRIDE;
    prog[pat + P_CAP] = capBps > 0 ? capBps : NO_CAP;
    prog[pat + P_ETA] = Infinity;
    prog[pat + P_SIZE] = sizeBytes;
    prog[pat + P_REMAINING] = sizeBytes;
    prog[pat + P_SETTLED_AT] = nowMs;
    this.tags[id] = tag;
    this.alive[id] = 1;
    this.append(src, N_OUT_COUNT, N_OUT_AT, N_OUT_CAP, id);
    this.append(dst, N_IN_COUNT, N_IN_AT, N_IN_CAP, id);
    this.flowCount++;
    this.recompute(nowMs, src, dst);
    return id;
  }

  /** True when a popped completion event for flowId at timeMs is current (not superseded). */
  isDue(flowId: number, timeMs: number): boolean {
    return this.alive[flowId] === 1 && this.flowProg[flowId * PROG_STRIDE + P_ETA] === timeMs;
  }

  tag(flowId: number): number { return this.tags[flowId]; }
  flowRateBps(flowId: number): number { return this.flowRec[flowId * FLOW_STRIDE + F_RATE]; }
  flowCapBps(flowId: number): number { return this.flowProg[flowId * PROG_STRIDE + P_CAP]; }
  flowSrc(flowId: number): number { return this.flowRec[flowId * FLOW_STRIDE + F_SRC]; }
  flowDst(flowId: number): number { return this.flowRec[flowId * FLOW_STRIDE + F_DST]; }
  flowSizeBytes(flowId: number): number { return this.flowProg[flowId * PROG_STRIDE + P_SIZE]; }
  isAlive(flowId: number): boolean { return this.alive[flowId] === 1; }

  /** The flow delivered all its bytes: remove it and re-rate its neighbours. */
  finishFlow(nowMs: number, flowId: number): void {
    this.remove(nowMs, flowId, this.flowProg[flowId * PROG_STRIDE + P_SIZE]);
  }

  /** Abort a flow (a crash, a cancelled fetch); returns the bytes it had delivered. */
  cancelFlow(nowMs: number, flowId: number): number {
    if (this.alive[flowId] !== 1) return 0;
    this.settle(nowMs, flowId);
    const pat = flowId * PROG_STRIDE;
    const delivered = this.flowProg[pat + P_SIZE] - this.flowProg[pat + P_REMAINING];
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
      const pat = f * PROG_STRIDE;
      const delivered = this.flowProg[pat + P_SIZE] - this.flowProg[pat + P_REMAINING];
      this.sentBytes[this.flowSrc(f)] += delivered;
      this.receivedBytes[this.flowDst(f)] += delivered;
      this.alive[f] = 0;
    }
    for (let n = 0; n < this.nodes; n++) {
      this.nodeRec[n * NODE_STRIDE + N_OUT_COUNT] = 0;
      this.nodeRec[n * NODE_STRIDE + N_IN_COUNT] = 0;
    }
    this.flowCount = 0;
  }

  /** Flow ids currently sending from / receiving at a node (a copy). */
  flowsAt(node: number): number[] {
    return [...this.outList(node), ...this.inList(node)];
  }

  /** Flows sending from / receiving at a node now. */
  outFlowCount(node: number): number { return this.nodeRec[node * NODE_STRIDE + N_OUT_COUNT]; }
  inFlowCount(node: number): number { return this.nodeRec[node * NODE_STRIDE + N_IN_COUNT]; }

  /** Bytes of the flows now arriving at a node, whole (delivered or not): what it has on its way. */
  inFlightBytes(node: number): number {
    let bytes = 0;
    for (const f of this.inList(node)) bytes += this.flowProg[f * PROG_STRIDE + P_SIZE];
    return bytes;
  }

  /** Sum of the current rates into a node (what it receives now; for measurements). */
  inRateBps(node: number): number {
    let down = 0;
    for (const f of this.inList(node)) down += this.flowRateBps(f);
    return down;
  }

  /** Sum of the current rates out of a node. */
  outRateBps(node: number): number {
    let up = 0;
    for (const f of this.outList(node)) up += this.flowRateBps(f);
    return up;
  }

  /** Sum of current rates out of / into a node (for invariant checkers). */
  loadBps(node: number): { upBps: number; downBps: number } {
    let up = 0;
    let down = 0;
    for (const f of this.outList(node)) up += this.flowRateBps(f);
    for (const f of this.inList(node)) down += this.flowRateBps(f);
    return { upBps: up, downBps: down };
  }

  private outList(node: number): Int32Array {
    const at = node * NODE_STRIDE;
    return this.lists.subarray(this.nodeRec[at + N_OUT_AT], this.nodeRec[at + N_OUT_AT] + this.nodeRec[at + N_OUT_COUNT]);
  }

  private inList(node: number): Int32Array {
    const at = node * NODE_STRIDE;
    return this.lists.subarray(this.nodeRec[at + N_IN_AT], this.nodeRec[at + N_IN_AT] + this.nodeRec[at + N_IN_COUNT]);
  }

  /** Room for `size` ids at the end of the pool; returns where. */
  private reserve(size: number): number {
    if (this.listsUsed + size > this.lists.length) this.lists = growInt(this.lists, Math.max(2 * this.lists.length, this.listsUsed + size));
    const at = this.listsUsed;
    this.listsUsed += size;
    return at;
  }

  /** Append flow `id` to one of node's lists (count/at/cap: the list's slots in its record). */
  private append(node: number, countSlot: number, atSlot: number, capSlot: number, id: number): void {
    const rec = node * NODE_STRIDE;
    const count = this.nodeRec[rec + countSlot];
    if (count === this.nodeRec[rec + capSlot]) {
      const size = 2 * count;
      const moved = this.reserve(size);
      const from = this.nodeRec[rec + atSlot];
      this.lists.copyWithin(moved, from, from + count);
      this.nodeRec[rec + atSlot] = moved;
      this.nodeRec[rec + capSlot] = size;
    }
    this.lists[this.nodeRec[rec + atSlot] + count] = id;
    this.nodeRec[rec + countSlot] = count + 1;
  }

  /** Take flow `id` out of one of node's lists: the last one takes its place. */
  private unlist(node: number, countSlot: number, atSlot: number, id: number): void {
    const rec = node * NODE_STRIDE;
    const lists = this.lists;
    const from = this.nodeRec[rec + atSlot];
    const last = from + this.nodeRec[rec + countSlot] - 1;
    for (let i = from; i <= last; i++) {
      if (lists[i] !== id) continue;
      lists[i] = lists[last];
      this.nodeRec[rec + countSlot]--;
      return;
    }
  }

  private remove(nowMs: number, flowId: number, deliveredBytes: number): void {
    const s = this.flowSrc(flowId);
    const d = this.flowDst(flowId);
    this.sentBytes[s] += deliveredBytes;
    this.receivedBytes[d] += deliveredBytes;
    this.alive[flowId] = 0;
    this.unlist(s, N_OUT_COUNT, N_OUT_AT, flowId);
    this.unlist(d, N_IN_COUNT, N_IN_AT, flowId);
    this.freeIds.push(flowId);
    this.flowCount--;
    this.recompute(nowMs, s, d);
  }

  private settle(nowMs: number, f: number): void {
    const prog = this.flowProg;
    const pat = f * PROG_STRIDE;
    const elapsedMs = nowMs - prog[pat + P_SETTLED_AT];
    if (elapsedMs > 0) {
      prog[pat + P_REMAINING] = Math.max(0, prog[pat + P_REMAINING] - this.flowRec[f * FLOW_STRIDE + F_RATE] * elapsedMs / 1000);
    }
    prog[pat + P_SETTLED_AT] = nowMs;
  }

  private setRate(nowMs: number, f: number, rateBps: number): void {
    this.rateUpdates++;
    const rec = this.flowRec;
    const at = f * FLOW_STRIDE;
    const prog = this.flowProg;
    const pat = f * PROG_STRIDE;
    if (rateBps === rec[at + F_RATE] && prog[pat + P_ETA] !== Infinity) return;
    this.rateChanges++;
    this.settle(nowMs, f);
    rec[at + F_RATE] = rateBps;
    const eta = rateBps > 0 ? nowMs + prog[pat + P_REMAINING] * 1000 / rateBps : Infinity;
    prog[pat + P_ETA] = eta;
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
    this.changedSrc = src;
    this.changedDst = dst;
    if (src === dst) {
      this.refillSenderSide(src, epoch);
      this.refillReceiverSide(src, epoch);
    } else {
      this.refillSenderSide(src, epoch);
      this.refillReceiverSide(dst, epoch);
    }
    const touched = this.touchedFlows;
    const rec = this.flowRec;
    for (let i = 0; i < this.touchedCount; i++) {
      const f = touched[i];
      const up = rec[f * FLOW_STRIDE + F_UP];
      const down = rec[f * FLOW_STRIDE + F_DOWN];
      this.setRate(nowMs, f, up < down ? up : down);
    }
  }

  /** x's uplink, and the downlink of every receiver of x (each of x's flows asks it for a new share). */
  private refillSenderSide(x: number, epoch: number): void {
    this.refillUp(x, epoch);
    const at = x * NODE_STRIDE;
    const from = this.nodeRec[at + N_OUT_AT];
    const end = from + this.nodeRec[at + N_OUT_COUNT];
    for (let i = from; i < end; i++) this.refillDown(this.flowRec[this.lists[i] * FLOW_STRIDE + F_DST], epoch);
  }

  /** x's downlink, and the uplink of every sender to x. */
  private refillReceiverSide(x: number, epoch: number): void {
    this.refillDown(x, epoch);
    const at = x * NODE_STRIDE;
    const from = this.nodeRec[at + N_IN_AT];
    const end = from + this.nodeRec[at + N_IN_COUNT];
    for (let i = from; i < end; i++) this.refillUp(this.flowRec[this.lists[i] * FLOW_STRIDE + F_SRC], epoch);
  }

  // refillUp and refillDown read the arrays into locals once: these two loops run for every flow
  // next to every change, and a field load per element cost more than the arithmetic.
  private refillUp(node: number, epoch: number): void {
    const nodeRec = this.nodeRec;
    const at = node * NODE_STRIDE;
    if (nodeRec[at + N_UP_STAMP] === epoch) return;
    nodeRec[at + N_UP_STAMP] = epoch;
    if (node !== this.changedSrc && this.changedSrc !== this.changedDst && this.refillUnneeded(node, node, this.changedDst, false, epoch)) return;
    const from = nodeRec[at + N_OUT_AT];
    const k = nodeRec[at + N_OUT_COUNT];
    const demand = this.demandScratch(k);
    const lists = this.lists;
    const rec = this.flowRec;
    const changed = this.changedDst;
    let total = 0;
    for (let i = 0; i < k; i++) {
      const f = lists[from + i];
      const at = f * FLOW_STRIDE;
      let wanted: number;
      if (rec[at + F_DST] === changed) {
        const share = this.downBps[changed] / nodeRec[changed * NODE_STRIDE + N_IN_COUNT];
        const cap = this.flowProg[f * PROG_STRIDE + P_CAP];
        wanted = share < cap ? share : cap;
        rec[at + F_DEMAND_UP] = wanted;
      } else wanted = rec[at + F_DEMAND_UP];
      demand[i] = wanted;
      total += wanted;
    }
    this.upSlack[node] = total <= this.upBps[node] ? this.upBps[node] - total : NaN;
    this.upLevel[node] = this.waterFill(this.upBps[node], from, k, demand, total, F_UP, epoch);
  }

  private refillDown(node: number, epoch: number): void {
    const nodeRec = this.nodeRec;
    const at = node * NODE_STRIDE;
    if (nodeRec[at + N_DOWN_STAMP] === epoch) return;
    nodeRec[at + N_DOWN_STAMP] = epoch;
    if (node !== this.changedDst && this.changedSrc !== this.changedDst && this.refillUnneeded(node, this.changedSrc, node, true, epoch)) return;
    const from = nodeRec[at + N_IN_AT];
    const k = nodeRec[at + N_IN_COUNT];
    const demand = this.demandScratch(k);
    const lists = this.lists;
    const rec = this.flowRec;
    const changed = this.changedSrc;
    let total = 0;
    for (let i = 0; i < k; i++) {
      const f = lists[from + i];
      const at = f * FLOW_STRIDE;
      let wanted: number;
      if (rec[at + F_SRC] === changed) {
        const share = this.upBps[changed] / nodeRec[changed * NODE_STRIDE + N_OUT_COUNT];
        const cap = this.flowProg[f * PROG_STRIDE + P_CAP];
        wanted = share < cap ? share : cap;
        rec[at + F_DEMAND_DOWN] = wanted;
      } else wanted = rec[at + F_DEMAND_DOWN];
      demand[i] = wanted;
      total += wanted;
    }
    this.downSlack[node] = total <= this.downBps[node] ? this.downBps[node] - total : NaN;
    this.downLevel[node] = this.waterFill(this.downBps[node], from, k, demand, total, F_DOWN, epoch);
  }

  /**
   * A refill a flow change does not need (or needs for one flow only). The change moved the
   * demands of the flows between `src` and `dst` only (one end is the changed node, the other
   * `node`, the one being refilled: dst's downlink when `down`, else src's uplink); its flow set
   * and capacity did not change. Two cases are decided here, each exactly as the full refill
   * would decide it, and true is returned with the new demands recorded:
   *
   * - its last fill was short of capacity, with water level L, and those flows asked for more
   *   than L both before and after: the fill is the same one, operation for operation (in every
   *   round of waterFill those flows stay above the share, as shares never pass L, so the same
   *   other flows settle in the same order and the same share is left) and every allocation
   *   comes out bit for bit as it was: nothing to re-rate;
   * - its last fill had room (demands summed below capacity, allocation = demand) and still has
   *   with the one flow's new demand: that flow's allocation becomes its demand and no other
   *   moves — what the full fill gives, and the flow is queued for re-rating as it would queue it.
   *
   * Margins of 1e-6 of the level or capacity keep float rounding (of the running slack, or of a
   * sum taken in another order) from ever deciding either case. Anything else is refilled.
   */
  private refillUnneeded(node: number, src: number, dst: number, down: boolean, epoch: number): boolean {
    const level = down ? this.downLevel[node] : this.upLevel[node];
    const slack = down ? this.downSlack[node] : this.upSlack[node];
    if (!this.skipUnneededRefills || (!(level > 0) && !(slack >= 0))) return false;
    const rec = this.flowRec;
    const lists = this.lists;
    const nodeRec = this.nodeRec;
    // The flows between src and dst, from the changed node's list (short, and just read).
    const listAt = down ? src * NODE_STRIDE + N_OUT_AT : dst * NODE_STRIDE + N_IN_AT;
    const countAt = down ? src * NODE_STRIDE + N_OUT_COUNT : dst * NODE_STRIDE + N_IN_COUNT;
    const from = nodeRec[listAt];
    const end = from + nodeRec[countAt];
    const otherSlot = down ? F_DST : F_SRC;
    const demandSlot = down ? F_DEMAND_DOWN : F_DEMAND_UP;
    const share = down ? this.upBps[src] / nodeRec[src * NODE_STRIDE + N_OUT_COUNT] : this.downBps[dst] / nodeRec[dst * NODE_STRIDE + N_IN_COUNT];
    if (level > 0) {
      const above = level * (1 + 1e-6);
      for (let i = from; i < end; i++) {
        const f = lists[i];
        if (rec[f * FLOW_STRIDE + otherSlot] !== node) continue;
        const cap = this.flowProg[f * PROG_STRIDE + P_CAP];
        const wanted = share < cap ? share : cap;
        if (!(rec[f * FLOW_STRIDE + demandSlot] > above && wanted > above)) return false;
      }
      for (let i = from; i < end; i++) {
        const f = lists[i];
        if (rec[f * FLOW_STRIDE + otherSlot] !== node) continue;
        const cap = this.flowProg[f * PROG_STRIDE + P_CAP];
        rec[f * FLOW_STRIDE + demandSlot] = share < cap ? share : cap;
      }
      return true;
    }
    let flow = -1;
    for (let i = from; i < end; i++) {
      const f = lists[i];
      if (rec[f * FLOW_STRIDE + otherSlot] !== node) continue;
      if (flow >= 0) return false;
      flow = f;
    }
    if (flow < 0) return false;
    const at = flow * FLOW_STRIDE;
    const cap = this.flowProg[flow * PROG_STRIDE + P_CAP];
    const wanted = share < cap ? share : cap;
    const left = slack - (wanted - rec[at + demandSlot]);
    if (!(left > 1e-6 * (down ? this.downBps[node] : this.upBps[node]))) return false;
    rec[at + demandSlot] = wanted;
    if (down) this.downSlack[node] = left;
    else this.upSlack[node] = left;
    const allocSlot = down ? F_DOWN : F_UP;
    if (rec[at + allocSlot] === wanted && rec[at + F_RATE] > 0) return true;
    rec[at + allocSlot] = wanted;
    if (rec[at + F_STAMP] !== epoch) {
      rec[at + F_STAMP] = epoch;
      if (this.touchedCount === this.touchedFlows.length) this.touchedFlows = growInt(this.touchedFlows, 2 * this.touchedCount);
      this.touchedFlows[this.touchedCount++] = flow;
    }
    return true;
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
   * Split capacityBps over the k flows listed at lists[from..], max-min at this one node: demands
   * below the equal share are met in full and their leftover is shared by the rest, round after
   * round. Each round fixes at least one flow; in practice one to three rounds, without sorting.
   * When the demands fit (the common case at a node that is not the bottleneck) each flow simply
   * gets its demand. The allocation lands in each flow record's slot `allocSlot` (F_UP or F_DOWN);
   * only flows whose allocation changed are handed to recompute for re-rating. Returns the water
   * level when the demands did not fit and some flows got the level, else NaN (see refillUnneeded).
   */
  private waterFill(capacityBps: number, from: number, k: number, demand: Float64Array, totalDemand: number, allocSlot: number, epoch: number): number {
    const next = totalDemand <= capacityBps ? demand : this.scratchAlloc;
    let level = NaN;
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
          level = share;
          break;
        }
      }
    }
    const lists = this.lists;
    const rec = this.flowRec;
    for (let i = 0; i < k; i++) {
      const f = lists[from + i];
      const at = f * FLOW_STRIDE;
      const value = next[i];
      if (rec[at + allocSlot] === value && rec[at + F_RATE] > 0) continue;
      rec[at + allocSlot] = value;
      if (rec[at + F_STAMP] !== epoch) {
        rec[at + F_STAMP] = epoch;
        if (this.touchedCount === this.touchedFlows.length) this.touchedFlows = growInt(this.touchedFlows, 2 * this.touchedCount);
        this.touchedFlows[this.touchedCount++] = f;
      }
    }
    return level;
  }

  private recomputeAll(nowMs: number): void {
    const ids: number[] = [];
    const demands: FlowDemand[] = [];
    for (let f = 0; f < this.capacity; f++) {
      if (this.alive[f] !== 1) continue;
      ids.push(f);
      demands.push({ src: this.flowSrc(f), dst: this.flowDst(f), capBps: this.flowCapBps(f) });
    }
    const rates = maxMinRates(demands, this.upBps.subarray(0, this.nodes), this.downBps.subarray(0, this.nodes));
    for (let i = 0; i < ids.length; i++) this.setRate(nowMs, ids[i], rates[i]);
  }

  private allocate(): number {
    const reused = this.freeIds.pop();
    if (reused !== undefined) return reused;
    if (this.capacity === this.tags.length) this.grow();
    return this.capacity++;
  }

  private grow(): void {
    const size = Math.max(64, this.tags.length * 2);
    this.tags = growInt(this.tags, size);
    const alive = new Uint8Array(size);
    alive.set(this.alive);
    this.alive = alive;
    this.flowRec = growFloat(this.flowRec, size * FLOW_STRIDE);
    this.flowProg = growFloat(this.flowProg, size * PROG_STRIDE);
  }
}

function checkCapacity(bps: number, what: string): void {
  if (!(bps > 0) || !Number.isFinite(bps)) throw new Error(`node ${what} capacity must be a finite rate > 0 bytes/s, got ${bps}`);
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
