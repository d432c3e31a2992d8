/**
 * "What if the simulator modelled X?" without touching the simulator: the same scenario and seed
 * re-simulated with one model input changed at a time, each compared with the live run. A
 * variant that moves the simulated times onto the live ones points at the model change worth
 * making (and by how much it matters); one that does not, rules that effect out.
 *
 *   goodput      every capacity x GOODPUT_FACTOR: what one TCP flow delivers of a link's wire rate
 *                (1448 payload bytes per 1514-byte Ethernet frame, IPv4 + TCP with timestamps)
 *   max-min      the exact max-min sharing rule instead of the scenario's (`local` by default)
 *   both         goodput and max-min together
 */
import { percentiles, type Percentiles } from '../../sim/result.ts';
import type { Distribution, Scenario } from '../../sim/scenario.ts';
import { runStrategy } from '../../sim/strategies/index.ts';
import { buildWorld } from '../../sim/world.ts';
import { errorPercent } from './compare.ts';

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
  { name: 'goodput', description: `every capacity x ${GOODPUT_FACTOR.toFixed(3)} (TCP/IP and Ethernet headers)`, apply: (s) => scaled(s, GOODPUT_FACTOR) },
  { name: 'max-min', description: 'exact max-min sharing of links between flows', apply: (s) => ({ ...s, sharing: 'max-min' }) },
  { name: 'goodput + max-min', description: 'both of the above', apply: (s) => ({ ...scaled(s, GOODPUT_FACTOR), sharing: 'max-min' }) },
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

function scaled(s: Scenario, factor: number): Scenario {
  const rate = (bps: number): number => bps * factor;
  const dist = (d: Distribution): Distribution => {
    switch (d.kind) {
      case 'fixed': return { kind: 'fixed', valueBps: rate(d.valueBps) };
      case 'uniform': return { kind: 'uniform', minBps: rate(d.minBps), maxBps: rate(d.maxBps) };
      case 'choice': return { kind: 'choice', options: d.options.map((o) => ({ ...o, valueBps: rate(o.valueBps) })) };
    }
  };
  return {
    ...s, hostUp: dist(s.hostUp), hostDown: dist(s.hostDown), originUpBps: rate(s.originUpBps), originDownBps: rate(s.originDownBps),
    supernodeUpBps: rate(s.supernodeUpBps), supernodeDownBps: rate(s.supernodeDownBps),
    localLimitBps: rate(s.localLimitBps), totalLimitBps: rate(s.totalLimitBps),
  };
}
