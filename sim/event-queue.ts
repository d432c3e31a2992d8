/**
 * The simulator's agenda: a binary min-heap of events keyed by (timeMs, sequence).
 *
 * Theory of operation. An event is three numbers: when it fires, the order it was pushed in
 * (so events at the same instant fire in insertion order, which keeps runs deterministic) and
 * one integer payload the driver decodes (an event code plus an index). The heap is kept as
 * parallel typed arrays that double when full, so pushing and popping allocate nothing: at
 * 10,000 hosts a run pushes tens of millions of events and an object per event would spend
 * most of the time in the garbage collector.
 *
 * `pop()` returns the payload and leaves the event's time in `poppedTimeMs`, again to avoid
 * returning a tuple object.
 */
export class EventQueue {
  private timesMs: Float64Array;
  private sequences: Float64Array;
  private payloads: Int32Array;
  private length = 0;
  private nextSequence = 0;
  /** Time of the event returned by the last `pop()`. */
  poppedTimeMs = 0;
  /** Largest number of events held at once (a memory figure for benchmarks). */
  peakSize = 0;

  constructor(initialCapacity = 1024) {
    const capacity = Math.max(16, initialCapacity);
    this.timesMs = new Float64Array(capacity);
    this.sequences = new Float64Array(capacity);
    this.payloads = new Int32Array(capacity);
  }

  get size(): number { return this.length; }

  push(timeMs: number, payload: number): void {
    if (!(timeMs >= 0) || timeMs === Infinity) throw new Error(`event time must be finite and >= 0, got ${timeMs}`);
    if (this.length === this.timesMs.length) this.grow();
    const sequence = this.nextSequence++;
    let i = this.length++;
    if (this.length > this.peakSize) this.peakSize = this.length;
    // Sift up: move parents down until the new event's slot is found.
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const pt = this.timesMs[parent];
      if (pt < timeMs || (pt === timeMs && this.sequences[parent] < sequence)) break;
      this.timesMs[i] = pt;
      this.sequences[i] = this.sequences[parent];
      this.payloads[i] = this.payloads[parent];
      i = parent;
    }
    this.timesMs[i] = timeMs;
    this.sequences[i] = sequence;
    this.payloads[i] = payload;
  }

  /** Time of the earliest event, or Infinity when empty. */
  peekTimeMs(): number {
    return this.length === 0 ? Infinity : this.timesMs[0];
  }

  /** Remove the earliest event; returns its payload and sets `poppedTimeMs`. */
  pop(): number {
    if (this.length === 0) throw new Error('pop from an empty event queue');
    const payload = this.payloads[0];
    this.poppedTimeMs = this.timesMs[0];
    const last = --this.length;
    if (last > 0) {
      const t = this.timesMs[last];
      const s = this.sequences[last];
      const p = this.payloads[last];
      // Sift down the former last event from the root.
      let i = 0;
      const half = last >> 1;
      while (i < half) {
        let child = 2 * i + 1;
        const right = child + 1;
        if (right < last && (this.timesMs[right] < this.timesMs[child]
          || (this.timesMs[right] === this.timesMs[child] && this.sequences[right] < this.sequences[child]))) child = right;
        const ct = this.timesMs[child];
        if (t < ct || (t === ct && s < this.sequences[child])) break;
        this.timesMs[i] = ct;
        this.sequences[i] = this.sequences[child];
        this.payloads[i] = this.payloads[child];
        i = child;
      }
      this.timesMs[i] = t;
      this.sequences[i] = s;
      this.payloads[i] = p;
    }
    return payload;
  }

  private grow(): void {
    const capacity = this.timesMs.length * 2;
    const times = new Float64Array(capacity);
    times.set(this.timesMs);
    const sequences = new Float64Array(capacity);
    sequences.set(this.sequences);
    const payloads = new Int32Array(capacity);
    payloads.set(this.payloads);
    this.timesMs = times;
    this.sequences = sequences;
    this.payloads = payloads;
  }
}
