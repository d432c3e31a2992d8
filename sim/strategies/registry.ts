/**
 * `registry`: the baseline the seed compares against. Every host pulls the whole file straight
 * from the origin (one HTTP GET: a request one latency away, then one flow of F bytes), as
 * `docker pull` does without a mirror. No core machine is involved.
 */
import { Simulation, type RunHooks } from '../engine.ts';
import type { World } from '../world.ts';

export function runRegistry(world: World, hooks: RunHooks): Simulation {
  const sim = new Simulation(world, hooks);
  const F = world.scenario.fileSizeBytes;
  const flowOf = new Int32Array(sim.hostCount).fill(-1);
  const startFlow = sim.on('flow-start', (host) => {
    if (sim.crashed[host]) return;
    flowOf[host] = sim.network.startFlow(sim.nowMs, sim.originNode, sim.hostNode(host), F, 0, host);
  });
  const arrive = sim.on('arrive', (host) => {
    if (sim.crashed[host]) return;
    const rttMs = 2 * sim.latencyMs(sim.originNode, sim.hostNode(host));
    sim.at(sim.nowMs + rttMs, startFlow, host);
  });
  const crash = sim.on('crash', (host) => {
    if (flowOf[host] >= 0 && sim.network.isAlive(flowOf[host])) sim.network.cancelFlow(sim.nowMs, flowOf[host]);
    flowOf[host] = -1;
    sim.hostCrashed(host);
  });
  sim.onFlowDone = (_flowId, host) => {
    flowOf[host] = -1;
    sim.hostFinished(host);
  };
  for (let h = 0; h < sim.hostCount; h++) {
    sim.at(world.arrivalMs[h], arrive, h);
    if (world.faults[h].crashAtMs !== Infinity) sim.at(world.faults[h].crashAtMs, crash, h);
  }
  return sim;
}
