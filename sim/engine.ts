/**
 * The run loop every strategy shares: virtual time, the event queue, the network and the
 * per-host bookkeeping that becomes the report.
 *
 * Theory of operation. Nodes are laid out as [origin, supernode 0..S-1, host 0..N-1] in both
 * the network and the topology. A strategy registers handlers for its own event codes and
 * pushes events with `at` (an integer argument) or `post` (an object parked in a slot until the
 * event fires: control messages, data-plane requests). Flow completions come from the network;
 * the loop drops superseded ones (lazy invalidation) and hands the rest to the strategy's
 * `onFlowDone`. Events are counted by kind (`eventsByKind`: each handler is registered under a
 * name). Every event that fires is folded into a 64-bit trace hash (time and payload),
 * so two runs of one seed can be compared event for event. The run ends when every surviving
 * host has finished or failed, when the queue empties, or at the simulated-time limit (`dfsim
 * --time-limit`; by default ten times the time every host would take to pull the file straight
 * from the origin, plus an hour). Hosts left unfinished are reported as such, never silently
 * dropped; at the limit the bytes of transfers still running count as far as they got.
 */
import { EventQueue } from './event-queue.ts';
import { Network } from './network.ts';
import { Topology } from './topology.ts';
import type { QueueModel } from './scenario.ts';
import type { World } from './world.ts';

/** Event payload = (argument << CODE_BITS) | code. */
const CODE_BITS = 4;
const CODE_MASK = (1 << CODE_BITS) - 1;
const MAX_ARGUMENT = 2 ** (31 - CODE_BITS) - 1;
const FLOW_DONE = 0;

export interface RunHooks {
  /**
   * Called before each event is handled, with its time: the state seen is the one that held
   * since the previous event (measurements that integrate over time, e.g. sim/gap.ts).
   */
  beforeEvent?: (sim: Simulation, timeMs: number) => void;
  /** Called after every event (invariant checkers in tests). */
  afterEvent?: (sim: Simulation) => void;
  /** Progress callback, once per 2^12 events (throttle by wall time in the callback). */
  progress?: (sim: Simulation) => void;
}

/**
 * The simulated-time limit a run gets unless told otherwise: ten times what the slowest sane
 * plan — every host pulling the whole file straight from the origin after the last arrival —
 * would take, plus an hour. Every strategy should finish well inside it; a run that does not is
 * stuck (every host failed and nobody noticed), and the limit stops it with a message.
 */
export function defaultTimeLimitMs(world: World): number {
  const s = world.scenario;
  const lastArrivalMs = world.arrivalMs.reduce((a, b) => Math.max(a, b), 0);
  const everyoneFromOriginMs = lastArrivalMs + s.hostCount * s.fileSizeBytes / world.originUpBps * 1000;
  return 10 * Math.max(world.lowerBoundMs, everyoneFromOriginMs) + 3_600_000;
}

export interface TimePoint { timeMs: number; hostsDone: number; originEgressBytes: number; supernodeEgressBytes: number }

export class Simulation {
  readonly queue = new EventQueue(1 << 12);
  readonly network: Network;
  readonly topology: Topology;
  readonly originNode = 0;
  readonly supernodeNodes: number[] = [];
  readonly hostBase: number;
  nowMs = 0;
  events = 0;
  /** The limit the run stopped at, or null when it ended on its own (every host settled, or no events left). */
  stoppedAtLimitMs: number | null = null;
  /** Absolute finish time per host; NaN while unfinished. */
  readonly completionMs: Float64Array;
  readonly failure: (string | null)[];
  readonly crashed: Uint8Array;
  readonly timeseries: TimePoint[] = [];
  onFlowDone: (flowId: number, tag: number, src: number, dst: number, sizeBytes: number) => void = () => {
    throw new Error('a flow finished but the strategy registered no onFlowDone');
  };

  private readonly handlers: ((arg: number) => void)[] = [];
  /** Per event code: its name (`on`) and how many events of it fired; and the flow completions dropped (flow since rescheduled or removed). */
  private readonly kindNames: string[] = ['flow-done'];
  private readonly kindCounts = new Float64Array(CODE_MASK + 1);
  private staleFlowEvents = 0;
  private readonly slots: unknown[] = [];
  private readonly freeSlots: number[] = [];
  private slotTargets = new Int32Array(1024);
  /** The scenario's link queues (messageDelayMs), read on every message. */
  private readonly queues: QueueModel;
  private hashLow = 0x811c9dc5;
  private hashHigh = 0x01000193;
  private settled = 0;
  private stopped = false;

  constructor(readonly world: World, private readonly hooks: RunHooks = {}) {
    const s = world.scenario;
    this.queues = s.queues;
    this.network = new Network((timeMs, flowId) => this.push(timeMs, FLOW_DONE, flowId), s.sharing);
    this.topology = new Topology(s.topology);
    this.network.addNode(world.originUpBps, s.originDownBps * s.goodput);
    this.topology.placeServer(s.originIdc);
    for (let i = 0; i < s.supernodeCount; i++) {
      this.supernodeNodes.push(this.network.addNode(world.supernodeUpBps, world.supernodeDownBps));
      this.topology.placeServer(s.supernodeIdc);
    }
    this.hostBase = this.network.nodeCount;
    for (let h = 0; h < s.hostCount; h++) {
      this.network.addNode(world.hostUpBps[h], world.hostDownBps[h]);
      this.topology.placeHost(h);
    }
    this.handlers.push(() => { throw new Error('flow events are dispatched by the loop'); });
    this.completionMs = new Float64Array(s.hostCount).fill(NaN);
    this.failure = new Array<string | null>(s.hostCount).fill(null);
    this.crashed = new Uint8Array(s.hostCount);
  }

  get hostCount(): number { return this.world.scenario.hostCount; }
  hostNode(host: number): number { return this.hostBase + host; }
  nodeHost(node: number): number { return node - this.hostBase; }
  isHostNode(node: number): boolean { return node >= this.hostBase; }
  latencyMs(a: number, b: number): number { return this.topology.latencyMs(a, b); }

  /**
   * How long a small message from node `from` takes to reach node `to`: the latency, plus its wait
   * in the FIFO queues of the scenario's `queues:` model at from's uplink and to's downlink.
   */
  messageDelayMs(from: number, to: number): number {
    const latencyMs = this.topology.latencyMs(from, to);
    if (this.queues.perFlowBytes === 0) return latencyMs;
    const network = this.network;
    return latencyMs + this.queueWaitMs(network.outFlowCount(from), network.nodeUpBps(from))
      + this.queueWaitMs(network.inFlowCount(to), network.nodeDownBps(to));
  }

  private queueWaitMs(flows: number, bytesPerSec: number): number {
    if (flows === 0) return 0;
    const { perFlowBytes, limitMs, limitMinBytes } = this.queues;
    const limitBytes = Math.max(limitMinBytes, limitMs * bytesPerSec / 1000);
    return 1000 * Math.min(limitBytes, flows * perFlowBytes) / bytesPerSec;
  }

  /** Register an event handler under a name (it names the kind in `eventsByKind`); returns its code. */
  on(name: string, handler: (arg: number) => void): number {
    if (this.handlers.length > CODE_MASK) throw new Error(`more than ${CODE_MASK} event kinds`);
    this.handlers.push(handler);
    this.kindNames.push(name);
    return this.handlers.length - 1;
  }

  /**
   * Events fired so far by kind (only kinds that fired), and under `stale-flow-done` the flow
   * completions popped and dropped because their flow had since been rescheduled (a rate change)
   * or removed: where a run's events go, and so its cost (bench:sim prints them per piece).
   */
  eventsByKind(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (let code = 0; code < this.kindNames.length; code++) {
      const name = this.kindNames[code];
      if (this.kindCounts[code] > 0) counts[name] = (counts[name] ?? 0) + this.kindCounts[code];
    }
    if (this.staleFlowEvents > 0) counts['stale-flow-done'] = this.staleFlowEvents;
    return counts;
  }

  /** Schedule event `code` with an integer argument at timeMs. */
  at(timeMs: number, code: number, arg: number): void {
    this.push(Math.max(timeMs, this.nowMs), code, arg);
  }

  /**
   * Park an object (and an integer `target`, e.g. the receiving node) until timeMs, then call
   * the handler of `code` with its slot (see `take` and `targetOf`). The target travels in a
   * typed array so a message needs no wrapper object.
   */
  post(timeMs: number, code: number, item: unknown, target = 0): void {
    const slot = this.freeSlots.pop() ?? this.slots.length;
    this.slots[slot] = item;
    if (slot >= this.slotTargets.length) {
      const grown = new Int32Array(2 * this.slotTargets.length);
      grown.set(this.slotTargets);
      this.slotTargets = grown;
    }
    this.slotTargets[slot] = target;
    this.at(timeMs, code, slot);
  }

  /** The integer target posted with a slot's object (read it before `take`). */
  targetOf(slot: number): number { return this.slotTargets[slot]; }

  /** The object parked in a slot; frees the slot. */
  take<T>(slot: number): T {
    const item = this.slots[slot] as T;
    this.slots[slot] = undefined;
    this.freeSlots.push(slot);
    return item;
  }

  hostFinished(host: number): void {
    if (!Number.isNaN(this.completionMs[host]) || this.failure[host] !== null) return;
    this.completionMs[host] = this.nowMs;
    this.timeseries.push({
      timeMs: this.nowMs,
      hostsDone: this.timeseries.length + 1,
      originEgressBytes: this.network.sentBytes[this.originNode],
      supernodeEgressBytes: this.supernodeEgressBytes(),
    });
    this.settle();
  }

  hostFailed(host: number, reason: string): void {
    if (!Number.isNaN(this.completionMs[host]) || this.failure[host] !== null) return;
    this.failure[host] = reason;
    this.settle();
  }

  /** A crashed host is out of the run: it needs nothing and counts as settled. */
  hostCrashed(host: number): void {
    if (this.crashed[host]) return;
    this.crashed[host] = 1;
    if (Number.isNaN(this.completionMs[host]) && this.failure[host] === null) this.settle();
  }

  /** End the run after the current event (a core machine faulted: nothing after it can be trusted). */
  stop(): void { this.stopped = true; }

  get hostsDone(): number { return this.timeseries.length; }

  supernodeEgressBytes(): number {
    let total = 0;
    for (const n of this.supernodeNodes) total += this.network.sentBytes[n];
    return total;
  }

  /** Hex digest of every event fired so far. */
  traceHash(): string {
    return (this.hashHigh >>> 0).toString(16).padStart(8, '0') + (this.hashLow >>> 0).toString(16).padStart(8, '0');
  }

  /** Run until every host settles, the queue empties, or simulated time would pass `timeLimitMs`. */
  run(timeLimitMs: number): void {
    const queue = this.queue;
    const network = this.network;
    while (!this.stopped && queue.size > 0) {
      if (queue.peekTimeMs() > timeLimitMs) {
        this.stoppedAtLimitMs = timeLimitMs;
        // What the transfers still running had delivered by the limit counts as sent and received.
        network.cutAll(timeLimitMs);
        break;
      }
      const payload = queue.pop();
      const timeMs = queue.poppedTimeMs;
      const code = payload & CODE_MASK;
      const arg = payload >>> CODE_BITS;
      if (code === FLOW_DONE) {
        if (!network.isDue(arg, timeMs)) {
          this.staleFlowEvents++;
          continue;
        }
        if (this.hooks.beforeEvent) this.hooks.beforeEvent(this, timeMs);
        this.advance(timeMs, payload);
        const tag = network.tag(arg);
        const src = network.flowSrc(arg);
        const dst = network.flowDst(arg);
        const size = network.flowSizeBytes(arg);
        network.finishFlow(timeMs, arg);
        this.onFlowDone(arg, tag, src, dst, size);
      } else {
        if (this.hooks.beforeEvent) this.hooks.beforeEvent(this, timeMs);
        this.advance(timeMs, payload);
        this.handlers[code](arg);
      }
      if (this.hooks.afterEvent) this.hooks.afterEvent(this);
      if (this.hooks.progress && (this.events & 0xfff) === 0) this.hooks.progress(this);
    }
  }

  private advance(timeMs: number, payload: number): void {
    this.nowMs = timeMs;
    this.events++;
    this.kindCounts[payload & CODE_MASK]++;
    const micros = Math.round(timeMs * 1000);
    this.hashLow = Math.imul(this.hashLow ^ payload, 0x01000193);
    this.hashLow = Math.imul(this.hashLow ^ (micros >>> 0), 0x01000193);
    this.hashHigh = Math.imul(this.hashHigh ^ (micros / 4294967296 >>> 0), 0x5bd1e995);
    this.hashHigh = Math.imul(this.hashHigh ^ this.hashLow, 0x5bd1e995) ^ (this.hashHigh >>> 13);
  }

  private push(timeMs: number, code: number, arg: number): void {
    if (arg > MAX_ARGUMENT) throw new Error(`event argument ${arg} over ${MAX_ARGUMENT}`);
    this.queue.push(timeMs, (arg << CODE_BITS) | code);
  }

  private settle(): void {
    if (++this.settled >= this.hostCount) this.stopped = true;
  }
}
