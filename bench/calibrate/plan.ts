/**
 * What a calibration run sets up: the scenario the simulator reads, made concrete for one seed by
 * the simulator's own `buildWorld`, laid out as testbed nodes — the origin, the supernodes and one
 * node per host, each with the rates, IDC, address and arrival time the simulated node has.
 *
 * Only fault-free scenarios are calibrated: a fault (crash, corrupt uploader, ...) is a scripted
 * event the simulator injects, and reproducing each one live is a different tool's job.
 */
import type { CoreConfig } from '../../core/config.ts';
import { applyOverrides, type CommonOverrides } from '../../sim/overrides.ts';
import { loadScenario, ScenarioError, type Scenario } from '../../sim/scenario.ts';
import { declaredPlacement, hostRack, type Placement } from '../../sim/topology.ts';
import { buildWorld, type World } from '../../sim/world.ts';

export type Role = 'origin' | 'supernode' | 'host';

export interface TestbedNode {
  role: Role;
  /** Host or supernode index (0 for the origin). */
  index: number;
  /** Short unique name: `origin`, `sn0`, `h12` (also the namespace suffix and switch port name). */
  name: string;
  idc: number;
  upBytesPerSec: number;
  downBytesPerSec: number;
  /** Private address inside the testbed's namespaces (netns shape); 127.0.0.1 in the app shape. */
  address: string;
  /** When the node starts, ms after the run's t = 0 (hosts only; 0 for servers). */
  arrivalMs: number;
  /** What a host declares with dfget's `--idc`/`--location`: what its simulated twin declares. */
  placement: Placement;
}

export interface TestbedPlan {
  scenario: Scenario;
  world: World;
  origin: TestbedNode;
  supernodes: TestbedNode[];
  hosts: TestbedNode[];
}

/** The private range used inside the testbed's namespaces (and nowhere else). */
export const SUBNET_PREFIX = '10.213';
export const SUBNET_BITS = 16;
const HOSTS_PER_OCTET = 250;
/** Hosts addressable in SUBNET_PREFIX/16 with the layout below (third octet 1..250). */
export const MAX_TESTBED_HOSTS = HOSTS_PER_OCTET * HOSTS_PER_OCTET;

/**
 * Load a scenario (shipped name or file), apply `--seed`, `--hosts`, `--file-size` and core
 * settings given as flags, and check that the testbed can run it.
 */
export function calibrationScenario(nameOrPath: string, overrides: Pick<CommonOverrides, 'seed' | 'hosts' | 'fileSize'>,
  core: Partial<Record<keyof CoreConfig, string>> = {}): Scenario {
  const scenario = applyOverrides(loadScenario(nameOrPath), overrides, core);
  if (scenario.faults.length > 0) {
    const kinds = [...new Set(scenario.faults.map((f) => f.kind))].join(', ');
    throw new ScenarioError(`scenario "${scenario.name}" has ${scenario.faults.length} fault(s) (${kinds}); calibrate runs fault-free `
      + 'scenarios only: remove its faults: section, or study faults with dfsim');
  }
  if (scenario.hostCount > MAX_TESTBED_HOSTS) {
    throw new ScenarioError(`scenario "${scenario.name}" has ${scenario.hostCount} hosts; the testbed addresses at most ${MAX_TESTBED_HOSTS} (use --hosts)`);
  }
  return scenario;
}

/** Lay the scenario's world out as testbed nodes; `loopback` puts every node on 127.0.0.1 (app shape). */
export function planTestbed(scenario: Scenario, loopback: boolean): TestbedPlan {
  const world = buildWorld(scenario);
  // netns shapes wire bytes (TCP/IP headers come out of the rate, as the scenario's goodput says);
  // the app shape's token buckets count file bytes, so they get the payload rates the simulator uses.
  const rates = loopback ? world : buildWorld({ ...scenario, goodput: 1 });
  const at = (address: string): string => (loopback ? '127.0.0.1' : address);
  const origin: TestbedNode = {
    role: 'origin', index: 0, name: 'origin', idc: scenario.originIdc, upBytesPerSec: rates.originUpBps,
    downBytesPerSec: scenario.originDownBps * (loopback ? scenario.goodput : 1), address: at(`${SUBNET_PREFIX}.0.2`), arrivalMs: 0, placement: {},
  };
  const supernodes = Array.from({ length: scenario.supernodeCount }, (_, i): TestbedNode => ({
    role: 'supernode', index: i, name: `sn${i}`, idc: scenario.supernodeIdc, upBytesPerSec: rates.supernodeUpBps,
    downBytesPerSec: rates.supernodeDownBps, address: at(`${SUBNET_PREFIX}.0.${10 + i}`), arrivalMs: 0, placement: {},
  }));
  if (supernodes.length > 200) throw new ScenarioError(`scenario "${scenario.name}" has ${supernodes.length} supernodes; the testbed runs at most 200`);
  const hosts = Array.from({ length: scenario.hostCount }, (_, i): TestbedNode => {
    // The simulator deals hosts round-robin over all racks (sim/topology.ts): same IDC and rack here.
    const { idc, rack } = hostRack(scenario.topology, i);
    return {
      role: 'host', index: i, name: `h${i}`, idc,
      upBytesPerSec: rates.hostUpBps[i], downBytesPerSec: rates.hostDownBps[i],
      address: at(`${SUBNET_PREFIX}.${1 + Math.floor(i / HOSTS_PER_OCTET)}.${1 + (i % HOSTS_PER_OCTET)}`),
      arrivalMs: world.arrivalMs[i], placement: declaredPlacement(scenario.topology, idc, rack),
    };
  });
  return { scenario, world, origin, supernodes, hosts };
}

export function allNodes(plan: TestbedPlan): TestbedNode[] {
  return [plan.origin, ...plan.supernodes, ...plan.hosts];
}
