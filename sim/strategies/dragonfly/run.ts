/**
 * `dragonfly` and `cdn-only`: the core's Supernode, Peer and Uploader machines, unchanged, over
 * the modelled network. `cdn-only` is the same run with every peer started in `pattern: 'cdn'`,
 * so the supernode assigns it no peer sources and lists it as none.
 *
 * Theory of operation. The run only moves bytes and time; every protocol decision is made by the
 * core machines, each in the driver runtime every real process uses (machines.ts). Its parts:
 *
 *   supernodes.ts   the supernodes and their uploaders; carries out supernode effects
 *   hosts.ts        each host's peer and uploader, created on arrival; carries out peer effects
 *   control.ts      control messages between hosts and supernodes (one latency each)
 *   data-plane.ts   piece requests, uploads and back-to-source downloads as network flows
 *   cdn.ts          the supernodes' source fetches, by the core's plan (core/source-fetch.ts)
 *   faults.ts       crashes and deleted caches at the world's times
 *   transfers.ts    the transfers in flight, by id (the flows' tags)
 *   machines.ts     MachineHost per machine, timers in the event queue, faults stop the run
 *
 * Settings flow as in production: supernodes run with the scenario's settings and send the
 * peer-side part in task-info; peers and their uploaders take them from there (hosts.ts).
 */
import { planPieces } from '../../../core/pieces.ts';
import { Simulation, type RunHooks } from '../../engine.ts';
import type { World } from '../../world.ts';
import { SimulatedCdn } from './cdn.ts';
import { ControlPlane, MAX_HOSTS, MAX_SUPERNODES } from './control.ts';
import { DataPlane } from './data-plane.ts';
import { FaultInjector } from './faults.ts';
import { Hosts } from './hosts.ts';
import type { SimFault } from '../../result.ts';
import { SimMachines } from './machines.ts';
import { Supernodes } from './supernodes.ts';
import { Transfers } from './transfers.ts';

export interface DragonflyCounters {
  piecesFromSupernode: number;
  piecesFromPeers: number;
  corruptFetches: number;
  refusedFetches: number;
  unverifiedWrites: number;
  backToSourceHosts: number;
  warnings: number;
  /** Assigned pieces whose expected digest was empty: no peer can verify them. */
  assignmentsWithoutDigest: number;
  /** Peers whose supernode sent no settings, so they ran on the defaults (never expected here). */
  peersOnDefaultSettings: number;
}

export class DragonflyRun {
  readonly sim: Simulation;
  readonly counters: DragonflyCounters = {
    piecesFromSupernode: 0, piecesFromPeers: 0, corruptFetches: 0, refusedFetches: 0, unverifiedWrites: 0,
    backToSourceHosts: 0, warnings: 0, assignmentsWithoutDigest: 0, peersOnDefaultSettings: 0,
  };
  readonly machines: SimMachines;
  readonly transfers: Transfers;
  readonly control: ControlPlane;
  readonly dataPlane: DataPlane;
  readonly cdn: SimulatedCdn;
  readonly supernodes: Supernodes;
  readonly hosts: Hosts;
  readonly faults: FaultInjector;

  constructor(readonly world: World, hooks: RunHooks, pattern: 'p2p' | 'cdn') {
    const { hostCount, supernodeCount } = world.scenario;
    if (hostCount > MAX_HOSTS || supernodeCount > MAX_SUPERNODES) {
      throw new Error(`dragonfly: at most ${MAX_HOSTS} hosts and ${MAX_SUPERNODES} supernodes per run`);
    }
    this.sim = new Simulation(world, hooks);
    this.machines = new SimMachines(this.sim, 2 * supernodeCount + 2 * hostCount);
    this.transfers = new Transfers(planPieces(world.scenario.fileSizeBytes, world.supernodeConfig.pieceSizeBytes).pieceCount);
    this.control = new ControlPlane(this);
    this.dataPlane = new DataPlane(this);
    this.cdn = new SimulatedCdn(this);
    this.supernodes = new Supernodes(this);
    this.hosts = new Hosts(this, pattern);
    this.faults = new FaultInjector(this);
    this.sim.onFlowDone = (_flowId, id) => this.onFlowDone(id);
    this.hosts.scheduleArrivals();
    this.faults.schedule();
  }

  /** The machine fault that stopped the run, or null. */
  get fault(): SimFault | null { return this.machines.fault; }

  private onFlowDone(id: number): void {
    switch (this.transfers.get(id).kind) {
      case 'cdn': return this.cdn.pieceLanded(id);
      case 'piece': return this.dataPlane.pieceDone(id);
      case 'source': return this.dataPlane.sourceDone(id);
    }
  }
}

export function runDragonfly(world: World, hooks: RunHooks, pattern: 'p2p' | 'cdn'): DragonflyRun {
  return new DragonflyRun(world, hooks, pattern);
}
