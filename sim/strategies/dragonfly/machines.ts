/**
 * The simulator's side of the one driver runtime (core/runtime.ts): every core machine of a
 * dragonfly run — supernodes, their uploaders, peers, host uploaders — runs in a `MachineHost`
 * whose timer is an event in the simulation's queue, so the simulator arms deadlines, drains
 * effects and treats a misbehaving machine exactly as the real processes do.
 *
 * Timers are superseded lazily, because the queue cannot take an event back. `timerAtMs[slot]`
 * is the time of the machine's earliest pending timer event. A deadline that moves earlier pushes
 * a new event; one that moves later, or goes away, pushes nothing: the pending event fires,
 * `MachineHost.fire` finds nothing due and re-arms at the new deadline. A popped event whose time
 * is no longer `timerAtMs[slot]` has been superseded and is dropped. A peer's pull timeout, which
 * moves later at every answer, thus costs one event per timeout period, not one per message. A
 * deadline already in the past is armed for now (the queue cannot go back).
 *
 * A fault — a machine that throws, or a deadline still due right after its timeout — stops the
 * whole run: the first one is kept with the virtual time it happened at, the engine stops after
 * the current event, and the run's checks report it with the seed (sim/checks.ts).
 */
import type { Machine } from '../../../core/drive.ts';
import { MachineHost, type MachineFault, type TimerPort } from '../../../core/runtime.ts';
import type { SimFault } from '../../result.ts';

/**
 * What the machines need of an event loop: virtual time, events with an integer argument, and a
 * way to stop. The simulation's engine is one; test/helpers/swarm.ts's little loop is another.
 */
export interface EventLoop {
  readonly nowMs: number;
  /** Register a handler under a name (see Simulation.eventsByKind); returns its event code. */
  on(name: string, handler: (arg: number) => void): number;
  at(timeMs: number, code: number, arg: number): void;
  /** End the run after the current event. */
  stop(): void;
}

interface Fireable { fire(): void }

export class SimMachines {
  /** The fault that stopped the run, or null. */
  fault: SimFault | null = null;
  private readonly timerAtMs: Float64Array;
  private readonly hosts: (Fireable | null)[];
  private readonly timerEvent: number;
  private readonly clock: () => number;
  private readonly onFault: (fault: MachineFault) => void;

  /** `slots`: how many machines the run may host; each has one fixed slot (its timer's argument). */
  constructor(private readonly sim: EventLoop, slots: number) {
    this.timerAtMs = new Float64Array(slots).fill(Infinity);
    this.hosts = new Array<Fireable | null>(slots).fill(null);
    this.clock = () => sim.nowMs;
    this.onFault = (fault) => this.stopRun(fault);
    this.timerEvent = sim.on('machine-timer', (slot) => this.onTimer(slot));
  }

  /** Run `machine` in slot `slot` under `name` (how a fault names it); its effects go to `sink`. */
  host<I extends { kind: string }, E>(slot: number, name: string, machine: Machine<I, E>, sink: (effect: E) => void): MachineHost<I, E> {
    const host = new MachineHost(name, machine, sink, this.clock, new QueueTimer(this, slot), this.onFault);
    this.hosts[slot] = host;
    return host;
  }

  /** The `TimerPort` of the machine in `slot`: make sure its timer event comes at `atMs` or earlier. */
  setTimer(slot: number, atMs: number | null): void {
    if (atMs === null) return;
    const fireAtMs = atMs > this.sim.nowMs ? atMs : this.sim.nowMs;
    if (fireAtMs >= this.timerAtMs[slot]) return;
    this.timerAtMs[slot] = fireAtMs;
    this.sim.at(fireAtMs, this.timerEvent, slot);
  }

  private onTimer(slot: number): void {
    if (this.sim.nowMs !== this.timerAtMs[slot]) return;
    this.timerAtMs[slot] = Infinity;
    this.hosts[slot]?.fire();
  }

  private stopRun(fault: MachineFault): void {
    if (this.fault !== null) return;
    this.fault = { ...fault, atMs: this.sim.nowMs };
    this.sim.stop();
  }
}

class QueueTimer implements TimerPort {
  constructor(private readonly machines: SimMachines, private readonly slot: number) {}
  set(atMs: number | null): void { this.machines.setTimer(this.slot, atMs); }
}
