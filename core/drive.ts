/**
 * The one way both drivers (sim/ and transport/) feed a core state machine: apply an input,
 * then drain every effect it produced, in order. Effects handled by the sink may feed new
 * inputs back (re-entrantly); they are applied in turn and their effects drained too.
 */
export interface Machine<Input, Effect> {
  /** Apply one input at time nowMs (monotonic; a machine asserts it never goes back). */
  handle(nowMs: number, input: Input): void;
  /** Next queued effect, or undefined when drained. */
  poll(): Effect | undefined;
  /** Earliest time at which the machine wants a `{ kind: 'timeout' }` input, or null. */
  nextDeadlineMs(): number | null;
}

export function applyAndDrain<I, E>(machine: Machine<I, E>, nowMs: number, input: I, sink: (effect: E) => void): void {
  machine.handle(nowMs, input);
  for (let effect = machine.poll(); effect !== undefined; effect = machine.poll()) sink(effect);
}

/** Deliver a timeout if the machine's deadline has passed; returns whether one was delivered. */
export function fireDue<I extends { kind: string }, E>(
  machine: Machine<I, E>, nowMs: number, sink: (effect: E) => void,
): boolean {
  const deadline = machine.nextDeadlineMs();
  if (deadline === null || deadline > nowMs) return false;
  applyAndDrain(machine, nowMs, { kind: 'timeout' } as I, sink);
  return true;
}

/** Guard used by every machine: time is an argument and must never go back. */
export class Clock {
  private lastMs = -Infinity;
  advance(nowMs: number): number {
    if (!(nowMs >= this.lastMs)) throw new Error(`time went back: ${nowMs} < ${this.lastMs}`);
    this.lastMs = nowMs;
    return nowMs;
  }
  get nowMs(): number { return this.lastMs; }
}

/** FIFO of effects with a bound, so a runaway machine fails loudly instead of eating memory. */
export class Outbox<E> {
  /** items[head, tail) are queued; the array is kept and reused (no new list per drain). */
  private readonly items: (E | undefined)[] = [];
  private head = 0;
  private tail = 0;
  constructor(private readonly limit = 1_000_000) {}
  push(effect: E): void {
    if (this.tail - this.head >= this.limit) throw new Error(`effect queue over its limit of ${this.limit}`);
    if (this.tail === this.items.length) this.items.push(effect);
    else this.items[this.tail] = effect;
    this.tail++;
  }
  poll(): E | undefined {
    if (this.head === this.tail) return undefined;
    const effect = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head === this.tail) {
      this.head = 0;
      this.tail = 0;
      // A burst (an answer to every peer at once) does not keep its long list for good.
      if (this.items.length > 1024) this.items.length = 0;
    }
    return effect;
  }
}
