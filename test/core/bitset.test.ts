import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { checkProperty } from '../helpers/fc-rerun.ts';
import { Bitset } from '../../core/bitset.ts';

test('examples: add, delete, count, full, word boundaries', () => {
  const set = new Bitset(65);
  assert.is(set.words.length, 3);
  assert.ok(set.add(0));
  assert.ok(set.add(31));
  assert.ok(set.add(32));
  assert.ok(set.add(64));
  assert.not.ok(set.add(64), 'second add reports nothing new');
  assert.is(set.count, 4);
  assert.equal(set.toArray(), [0, 31, 32, 64]);
  assert.ok(set.delete(31));
  assert.not.ok(set.delete(31));
  assert.equal(set.toArray(), [0, 32, 64]);
  assert.not.ok(set.full);
  assert.ok(new Bitset(0).full);
  assert.ok(Bitset.of(3, [0, 1, 2]).full);
  set.clear();
  assert.is(set.count, 0);
  assert.equal(set.toArray(), []);
});

test('out-of-range and fractional indices: has says no, add and delete throw naming the range', () => {
  const set = Bitset.of(10, [1, 2]);
  for (const i of [-1, 10, 1.5, 2.25, Number.NaN, Number.POSITIVE_INFINITY]) {
    assert.not.ok(set.has(i), `has(${i})`);
    assert.throws(() => set.add(i), /outside 0..9/);
    assert.throws(() => set.delete(i), /outside 0..9/);
  }
  assert.throws(() => new Bitset(-1), /whole number/);
  assert.throws(() => new Bitset(2.5), /whole number/);
});

type Op = { op: 'add' | 'delete' | 'has'; i: number } | { op: 'clear' };

test('model: any sequence of operations agrees with a Set', () => {
  const opArb = (size: number): fc.Arbitrary<Op> => {
    const index = fc.oneof(fc.nat({ max: Math.max(0, size - 1) }), fc.integer({ min: -2, max: size + 2 }), fc.double({ min: -1, max: size + 1, noNaN: true }));
    return fc.oneof(
      { weight: 10, arbitrary: fc.record({ op: fc.constantFrom('add', 'delete', 'has' as const), i: index }) },
      { weight: 1, arbitrary: fc.constant({ op: 'clear' as const }) },
    );
  };
  checkProperty(import.meta.url, 'set model', fc.property(
    fc.nat({ max: 200 }).chain((size) => fc.tuple(fc.constant(size), fc.array(opArb(size), { maxLength: 300 }))),
    ([size, ops]) => {
      const set = new Bitset(size);
      const model = new Set<number>();
      const valid = (i: number) => Number.isInteger(i) && i >= 0 && i < size;
      for (const step of ops) {
        if (step.op === 'clear') {
          set.clear();
          model.clear();
        } else if (step.op === 'has') {
          assert.is(set.has(step.i), model.has(step.i), `has(${step.i})`);
        } else if (!valid(step.i)) {
          assert.throws(() => set[step.op](step.i));
        } else if (step.op === 'add') {
          assert.is(set.add(step.i), !model.has(step.i));
          model.add(step.i);
        } else {
          assert.is(set.delete(step.i), model.has(step.i));
          model.delete(step.i);
        }
        assert.is(set.count, model.size);
        assert.is(set.full, model.size === size);
      }
      assert.equal(set.toArray(), [...model].sort((a, b) => a - b));
    },
  ), { numRuns: 300 });
});

test.run();
