import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { EventQueue } from '../../sim/event-queue.ts';
import { checkProperty } from '../helpers/fc-rerun.ts';

test('pops in (time, insertion order) and grows past its initial capacity', () => {
  checkProperty(import.meta.url, 'heap-order', fc.property(fc.array(fc.integer({ min: 0, max: 50 }), { maxLength: 300 }), (times) => {
    const queue = new EventQueue(16);
    times.forEach((t, i) => queue.push(t, i));
    const expected = times.map((t, i) => ({ t, i })).sort((a, b) => a.t - b.t || a.i - b.i);
    const got: { t: number; i: number }[] = [];
    while (queue.size > 0) {
      const i = queue.pop();
      got.push({ t: queue.poppedTimeMs, i });
    }
    assert.equal(got, expected);
  }), { numRuns: 200 });
});

test('interleaved pushes and pops keep the order', () => {
  const queue = new EventQueue(16);
  queue.push(5, 1);
  queue.push(3, 2);
  assert.is(queue.pop(), 2);
  queue.push(4, 3);
  queue.push(5, 4);
  assert.equal([queue.pop(), queue.pop(), queue.pop()], [3, 1, 4]);
  assert.is(queue.peekTimeMs(), Infinity);
  assert.throws(() => queue.pop(), /empty/);
  assert.throws(() => queue.push(NaN, 0), /finite/);
});

test.run();
