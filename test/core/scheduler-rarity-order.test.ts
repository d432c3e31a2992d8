import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RarityOrder } from '../../core/rarity-order.ts';
import { checkProperty } from '../helpers/fc-rerun.ts';

/** The listed pieces in walk order, grouped into levels as `levelEnd` reports them. */
function levels(order: RarityOrder): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < order.listed;) {
    const end = order.levelEnd(i);
    const level: number[] = [];
    for (; i < end; i++) level.push(order.pieceAt(i));
    out.push(level.sort((a, b) => a - b));
  }
  return out;
}

test('rarity order: pieces are walked rarest level first; unlisted pieces are never walked', () => {
  const order = new RarityOrder(6, 2);
  assert.is(order.listed, 0);
  order.list(4, 0);
  order.list(1, 3);
  order.list(2, 0);
  assert.equal(levels(order), [[2, 4], [1]]);
  order.update(4, 1);
  assert.equal(levels(order), [[2], [4], [1]]);
  order.update(1, 0);
  assert.equal(levels(order), [[1, 2], [4]]);
  order.list(0, 40);
  assert.equal(levels(order), [[1, 2], [4], [0]]);
  assert.is(order.keyOf(0), 40);
  assert.not.ok(order.isListed(3));
  order.update(3, 0);
  assert.not.ok(order.isListed(3), 'an unlisted piece stays unlisted until listed');
});

const op = fc.oneof(
  fc.record({ kind: fc.constant('list' as const), piece: fc.nat({ max: 29 }), rarity: fc.nat({ max: 70 }) }),
  fc.record({ kind: fc.constant('update' as const), piece: fc.nat({ max: 29 }), step: fc.integer({ min: -3, max: 3 }) }),
);

test('rarity order: after any list/update sequence the walk is sorted by key, levels are exact, and every listed piece appears once', () => {
  checkProperty(import.meta.url, 'rarity-order-model', fc.property(fc.integer({ min: 1, max: 30 }), fc.array(op, { maxLength: 200 }), (pieceCount, ops) => {
    const order = new RarityOrder(pieceCount, 1);
    const model = new Map<number, number>();
    for (const o of ops) {
      const piece = o.piece % pieceCount;
      if (o.kind === 'list') {
        if (!model.has(piece)) model.set(piece, o.rarity);
        order.list(piece, o.rarity);
      } else if (model.has(piece)) {
        const rarity = Math.max(0, model.get(piece)! + o.step);
        model.set(piece, rarity);
        order.update(piece, rarity);
      }
    }
    assert.is(order.listed, model.size);
    const walked = levels(order);
    assert.equal(walked.flat().sort((a, b) => a - b), [...model.keys()].sort((a, b) => a - b));
    let previous = -1;
    for (const level of walked) {
      const keys = new Set(level.map((piece) => model.get(piece)));
      assert.is(keys.size, 1, `level ${JSON.stringify(level)} mixes keys`);
      const key = model.get(level[0])!;
      assert.ok(key > previous, 'levels not in ascending key order');
      previous = key;
      for (const piece of level) assert.is(order.keyOf(piece), key);
    }
  }), { numRuns: 300 });
});

test.run();
