/**
 * Real time for the transport: the monotonic clock every driver feeds its machines, the one
 * `TimerPort` that arms a machine's deadline with `setTimeout`, and the one sleep.
 *
 * Every real process runs its core machines through `MachineHost` (core/runtime.ts), which drains
 * effects, arms the deadline through a `TimerPort` and turns a throwing machine or a deadline still
 * due after its timeout into a fault. `hostInRealTime` builds that host over `setTimeout`, so the
 * rounding rule is written once: fire at `ceil(atMs - now)` ms from now (never before the
 * deadline as this clock reads it; a timer that still fires early is re-armed by the host).
 */
import { MachineHost, type MachineFault, type TimerPort } from '../core/runtime.ts';
import type { Machine } from '../core/drive.ts';

/** Milliseconds on a clock that never goes back (what every core machine is fed as `nowMs`). */
export const monotonicNowMs = (): number => performance.now();

/** One timer for one machine: each `set` replaces the last. */
export class RealTimerPort implements TimerPort {
  private timer: NodeJS.Timeout | undefined;

  /**
   * `keepAlive`: whether a pending deadline keeps the process alive. A download waits on its
   * machine's deadlines (keep alive); an uploader or a supernode stays up for its sockets, and
   * must be free to exit when they are gone (unref).
   */
  constructor(private readonly fire: () => void, private readonly keepAlive: boolean) {}

  set(atMs: number | null): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (atMs === null) return;
    this.timer = setTimeout(this.fire, Math.max(0, Math.ceil(atMs - monotonicNowMs())));
    if (!this.keepAlive) this.timer.unref();
  }
}

export interface RealTimeHostOptions {
  keepAlive: boolean;
}

/** A machine hosted in real time: inputs at `monotonicNowMs()`, its deadline on a `RealTimerPort`. */
export function hostInRealTime<I extends { kind: string }, E>(
  name: string, machine: Machine<I, E>, sink: (effect: E) => void, onFault: (fault: MachineFault) => void,
  opts: RealTimeHostOptions,
): MachineHost<I, E> {
  const port = new RealTimerPort(() => host.fire(), opts.keepAlive);
  const host: MachineHost<I, E> = new MachineHost(name, machine, sink, monotonicNowMs, port, onFault);
  return host;
}

/** What a fault report says, in one line, for logs and error messages. */
export function describeFault(fault: MachineFault): string {
  const what = fault.kind === 'threw' ? 'threw' : 'left its deadline due';
  return `the ${fault.machine} machine ${what} on input "${fault.input}": ${fault.message}`;
}

/** Thrown by `sleep` (and what waits on it) when its signal aborts. */
export class CancelledError extends Error {
  constructor() { super('cancelled'); }
}

/**
 * Resolve after `ms`; reject with `CancelledError` as soon as `signal` aborts. `keepAlive: false`
 * lets the process exit while it sleeps.
 */
export function sleep(ms: number, signal?: AbortSignal, keepAlive = true): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) { reject(new CancelledError()); return; }
    const onAbort = (): void => { clearTimeout(timer); reject(new CancelledError()); };
    const timer = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(); }, Math.max(0, ms));
    if (!keepAlive) timer.unref();
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
