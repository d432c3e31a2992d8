/**
 * The one driver runtime: how every driver — the simulator's hosts and supernodes, the real
 * supernode, dfget, the uploader and its seeder, dfdaemon — runs a core state machine.
 *
 * Theory of operation. A `MachineHost` owns one machine, the sink that carries out its effects,
 * and one timer. `apply(input)` feeds an input at the driver's clock, drains every effect in
 * order (`applyAndDrain`) and re-arms the timer at the machine's `nextDeadlineMs()`. When the
 * timer fires, `fire()` delivers `{ kind: 'timeout' }` if the deadline has come (a timer that
 * fires early, or for a deadline that moved later, just re-arms). The driver supplies only the
 * clock and a `TimerPort` — virtual time and the event queue in sim/, `setTimeout` in
 * transport/ — so the rules below are the same everywhere:
 *
 * - a machine that throws is a fault: the host stops (no further input reaches a machine whose
 *   state no one can vouch for) and reports the machine's name, the input and the error;
 * - a deadline still due right after its timeout was delivered is a fault (the machine would
 *   spin at one instant, or in real time, spin the CPU);
 * - time never goes back (each machine's `Clock` asserts it; a violation is a thrown fault).
 *
 * What a fault does is the driver's call through `onFault`: the simulator fails the run with
 * its seed, dfget fails the download, the supernode logs it and exits so its peers fail over.
 */
import { applyAndDrain, type Machine } from './drive.ts';

export interface TimerPort {
  /**
   * Make sure the host's `fire()` is called at (or after) `atMs`, in place of any earlier
   * request; null = no deadline. Called after every input, so a port may skip a request for the
   * time it already holds.
   */
  set(atMs: number | null): void;
}

export interface MachineFault {
  /** The machine's name as the driver gave it (`supernode`, `peer h12`, `uploader`). */
  machine: string;
  kind: 'threw' | 'deadline-still-due';
  /** The input being handled (`timeout` for a timer). */
  input: string;
  message: string;
}

/** Input kinds and short fields for a fault report, never whole payloads (they may hold credentials). */
export function describeInput(input: { kind: string }): string {
  const fields: string[] = [input.kind];
  const record = input as unknown as Record<string, unknown>;
  for (const key of ['taskId', 'piece', 'from', 'peerId', 'source', 'supernode']) {
    const value = record[key];
    if (typeof value === 'string' || typeof value === 'number') fields.push(`${key}=${String(value).slice(0, 64)}`);
  }
  const msg = record.msg as { kind?: unknown } | undefined;
  if (msg && typeof msg.kind === 'string') fields.push(`msg=${msg.kind}`);
  return fields.join(' ');
}

export class MachineHost<I extends { kind: string }, E> {
  private armedAtMs: number | null = null;
  private faulted: MachineFault | null = null;
  private closed = false;

  constructor(
    readonly name: string,
    private readonly machine: Machine<I, E>,
    private readonly sink: (effect: E) => void,
    private readonly clock: () => number,
    private readonly timer: TimerPort,
    private readonly onFault: (fault: MachineFault) => void,
  ) {}

  /** The fault that stopped this host, or null while it runs. */
  get fault(): MachineFault | null { return this.faulted; }

  /** Feed one input now, drain its effects, re-arm the timer. Ignored once the host has faulted. */
  apply(input: I): void {
    if (this.faulted || this.closed) return;
    try {
      applyAndDrain(this.machine, this.clock(), input, this.sink);
    } catch (err) {
      return this.stop({ machine: this.name, kind: 'threw', input: describeInput(input), message: messageOf(err) });
    }
    this.arm();
  }

  /** The timer fired: deliver the timeout if it is due, then check the machine took it. */
  fire(): void {
    if (this.faulted || this.closed) return;
    this.armedAtMs = null;
    const nowMs = this.clock();
    const deadline = this.machine.nextDeadlineMs();
    if (deadline !== null && deadline <= nowMs) {
      try {
        applyAndDrain(this.machine, nowMs, { kind: 'timeout' } as I, this.sink);
      } catch (err) {
        return this.stop({ machine: this.name, kind: 'threw', input: 'timeout', message: messageOf(err) });
      }
      const next = this.machine.nextDeadlineMs();
      if (next !== null && next <= nowMs) {
        return this.stop({
          machine: this.name, kind: 'deadline-still-due', input: 'timeout',
          message: `deadline ${next} ms is still due at ${nowMs} ms after its timeout was delivered`,
        });
      }
    }
    this.arm();
  }

  /** Stop for good (the driver is shutting down): no more input, no timer. */
  close(): void {
    this.closed = true;
    this.timer.set(null);
  }

  private arm(): void {
    if (this.faulted || this.closed) return;
    const deadline = this.machine.nextDeadlineMs();
    if (deadline === this.armedAtMs) return;
    this.armedAtMs = deadline;
    this.timer.set(deadline);
  }

  private stop(fault: MachineFault): void {
    this.faulted = fault;
    this.timer.set(null);
    this.onFault(fault);
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
