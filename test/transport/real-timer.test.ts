import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Machine } from '../../core/drive.ts';
import type { MachineFault } from '../../core/runtime.ts';
import { CancelledError, describeFault, hostInRealTime, monotonicNowMs, RealTimerPort, sleep } from '../../transport/real-timer.ts';

test('the port fires once, never before the deadline, and a new request replaces the old', async () => {
  const fired: number[] = [];
  const port = new RealTimerPort(() => fired.push(monotonicNowMs()), true);
  const start = monotonicNowMs();
  port.set(start + 1000);
  port.set(start + 30);
  await sleep(120);
  assert.is(fired.length, 1, 'the replaced request never fires');
  assert.ok(fired[0] >= start + 30 - 1, `fired ${fired[0] - start} ms after the request, before its 30 ms deadline`);
  port.set(monotonicNowMs() + 20);
  port.set(null);
  await sleep(60);
  assert.is(fired.length, 1, 'null clears the request');
});

/** Due once at `dueAtMs`; records what it was fed. */
class Reminder implements Machine<{ kind: 'timeout' } | { kind: 'boom' }, string> {
  private out: string[] = [];
  constructor(private dueAtMs: number | null) {}
  handle(nowMs: number, input: { kind: 'timeout' } | { kind: 'boom' }): void {
    if (input.kind === 'boom') throw new Error('kaboom');
    if (this.dueAtMs !== null && nowMs >= this.dueAtMs) { this.out.push('rang'); this.dueAtMs = null; }
  }
  poll(): string | undefined { return this.out.shift(); }
  nextDeadlineMs(): number | null { return this.dueAtMs; }
}

test('a machine hosted in real time gets its timeout at its deadline; a throw is a named fault', async () => {
  const effects: string[] = [];
  const faults: MachineFault[] = [];
  const host = hostInRealTime('reminder', new Reminder(monotonicNowMs() + 25), (e) => effects.push(e), (f) => faults.push(f), { keepAlive: true });
  host.apply({ kind: 'timeout' });
  assert.equal(effects, [], 'not yet due');
  await sleep(100);
  assert.equal(effects, ['rang']);
  host.apply({ kind: 'boom' });
  assert.is(faults.length, 1);
  assert.is(describeFault(faults[0]), 'the reminder machine threw on input "boom": kaboom');
  host.close();
});

test('sleep rejects with CancelledError when its signal aborts, at once or later', async () => {
  const early = new AbortController();
  early.abort();
  await sleep(10, early.signal).then(() => assert.unreachable('resolved'), (err) => assert.instance(err, CancelledError));
  const later = new AbortController();
  const pending = sleep(10_000, later.signal);
  later.abort();
  await pending.then(() => assert.unreachable('resolved'), (err) => assert.instance(err, CancelledError));
});

test.run();
