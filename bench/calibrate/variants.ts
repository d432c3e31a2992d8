/**
 * "What if the simulator modelled X?" without touching the simulator: the same scenario and seed
 * re-simulated with one model input changed at a time, each compared with the live run. A
 * variant that moves the simulated times onto the live ones points at the model change worth
 * making (and by how much it matters); one that does not, rules that effect out.
 *
 *   goodput      the other reading of the scenario's rates: wire rates (goodput GOODPUT_FACTOR, what one
 *                TCP flow delivers: 1448 payload bytes per 1514-byte Ethernet frame, IPv4 + TCP with
 *                timestamps) when the scenario says payload rates (goodput 1), and the reverse
 *   max-min      the exact max-min sharing rule instead of the scenario's (`local` by default)
 *   both         goodput and max-min together
 *   no overhead  hosts.pieceOverheadMs 0: hosts that spend nothing per piece beyond its bytes
 *   tcp          the other reading of connections: ideal flows (tcp: all 0) when the scenario models
 *                TCP's connection opening and slow start, Linux's (LINUX_TCP) when it does not
 *   queues       the other reading of the links' queues: none when the scenario models the
 *                testbed's FIFOs (queues:), the testbed's (FIFO_QUEUE_MODEL) when it does not
 */
import { percentiles, type Percentiles } from '../../sim/result.ts';
import { IDEAL_TCP, LINUX_TCP, modelsTcp, NO_QUEUES, type Scenario } from '../../sim/scenario.ts';
import { runStrategy } from '../../sim/strategies/index.ts';
import { buildWorld } from '../../sim/world.ts';
import { errorPercent } from './compare.ts';
import { FIFO_QUEUE_MODEL } from './netns.ts';

/** TCP payload per Ethernet frame at MTU 1500: 1500 - 20 (IPv4) - 32 (TCP + timestamps) over 1514 on the wire. */
export const GOODPUT_FACTOR = 1448 / 1514;

export interface VariantResult {
  name: string;
  description: string;
  completionMs: Percentiles;
  errorPercent: { p50: number; p95: number; max: number };
}

const VARIANTS: { name: string; description: string; apply: (s: Scenario) => Scenario }[] = [
  { name: 'as configured', description: 'the scenario itself', apply: (s) => s },
  { name: 'goodput', description: `goodput ${GOODPUT_FACTOR.toFixed(3)} <-> 1 (TCP/IP and Ethernet headers counted or not)`, apply: (s) => otherGoodput(s) },
  { name: 'max-min', description: 'exact max-min sharing of links between flows', apply: (s) => ({ ...s, sharing: 'max-min' }) },
  { name: 'goodput + max-min', description: 'both of the above', apply: (s) => ({ ...otherGoodput(s), sharing: 'max-min' }) },
  { name: 'no overhead', description: 'hosts.pieceOverheadMs 0 (nothing spent per piece beyond its bytes)', apply: (s) => ({ ...s, pieceOverheadMs: 0 }) },
  { name: 'tcp', description: 'connection opening and slow start modelled <-> ideal flows (tcp:)', apply: (s) => ({ ...s, tcp: modelsTcp(s.tcp) ? { ...IDEAL_TCP } : { ...LINUX_TCP } }) },
  { name: 'queues', description: 'small messages waiting in the links\' FIFO queues modelled <-> not (queues:)', apply: (s) => ({ ...s, queues: s.queues.perFlowBytes > 0 ? { ...NO_QUEUES } : { ...FIFO_QUEUE_MODEL } }) },
];

/** Each variant's per-host completion percentiles (from each host's arrival) and error of `liveMs` against it. */
export function simulateVariants(scenario: Scenario, live: Percentiles): VariantResult[] {
  return VARIANTS.map((variant) => {
    const world = buildWorld(variant.apply(scenario));
    const result = runStrategy('dragonfly', world);
    const completionMs = percentiles(result.hostResults.flatMap((h) => (h.completionMs === null ? [] : [h.completionMs - h.arrivalMs])));
    return {
      name: variant.name, description: variant.description, completionMs,
      errorPercent: { p50: errorPercent(live.p50, completionMs.p50), p95: errorPercent(live.p95, completionMs.p95), max: errorPercent(live.max, completionMs.max) },
    };
  });
}

function otherGoodput(s: Scenario): Scenario {
  return { ...s, goodput: s.goodput === 1 ? GOODPUT_FACTOR : 1 };
}
