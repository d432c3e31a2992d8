/**
 * Fault injection for a dragonfly run, at the times the world drew from the scenario's faults.
 *
 * - host crash: the host's machines stop, its flows are cut (the other ends hear so) and its
 *   supernodes hear its connection close (`peer-gone`);
 * - deleted cache: the host's uploader forgets the task (`unlist-task`), so requests for its
 *   pieces are refused and the scheduler learns it from the requesters' failures;
 * - supernode crash: its machines stop, its flows (CDN streams and uploads) are cut, and every
 *   peer registered with it hears `supernode-down` and migrates by the core's rules.
 * Corrupt uploaders and slow peers need no event: the data plane and the capacities carry them.
 */
import { TASK_ID } from './task.ts';
import type { DragonflyRun } from './run.ts';

export class FaultInjector {
  private readonly crashHostEvent: number;
  private readonly deleteCacheEvent: number;
  private readonly crashSupernodeEvent: number;

  constructor(private readonly run: DragonflyRun) {
    this.crashHostEvent = run.sim.on('crash-host', (host) => this.crashHost(host));
    this.deleteCacheEvent = run.sim.on('delete-cache', (host) => this.run.hosts.applyUploader(host, { kind: 'unlist-task', taskId: TASK_ID }));
    this.crashSupernodeEvent = run.sim.on('crash-supernode', (sn) => this.crashSupernode(sn));
  }

  schedule(): void {
    const { sim, world } = this.run;
    world.faults.forEach((fault, host) => {
      if (fault.crashAtMs !== Infinity) sim.at(fault.crashAtMs, this.crashHostEvent, host);
      if (fault.deleteCacheAtMs !== Infinity) sim.at(fault.deleteCacheAtMs, this.deleteCacheEvent, host);
    });
    world.supernodeCrashAtMs.forEach((atMs, sn) => { if (atMs !== Infinity) sim.at(atMs, this.crashSupernodeEvent, sn); });
  }

  private crashHost(host: number): void {
    const { sim, hosts, dataPlane, control } = this.run;
    if (sim.crashed[host]) return;
    sim.hostCrashed(host);
    hosts.crash(host);
    dataPlane.cutFlowsAt(sim.hostNode(host));
    control.peerGone(host);
  }

  private crashSupernode(sn: number): void {
    const { sim, supernodes, hosts, dataPlane, control } = this.run;
    if (supernodes.isDead(sn)) return;
    supernodes.crash(sn);
    dataPlane.cutFlowsAt(sim.supernodeNodes[sn]);
    const addr = supernodes.addrs[sn];
    for (let host = 0; host < sim.hostCount; host++) {
      if (hosts.peer(host)?.currentSupernode === addr) control.supernodeDown(host, sn);
    }
  }
}
