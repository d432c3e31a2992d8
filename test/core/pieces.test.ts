import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { checkProperty } from '../helpers/fc-rerun.ts';
import { MiB, pieceBytes, pieceRange, pieceSize, planPieces } from '../../core/pieces.ts';

const GiB = 1024 * MiB;

test("piece size follows the seed's rule at its boundaries", () => {
  const cases: [number | null, number][] = [
    [null, 4 * MiB], [0, 4 * MiB], [1, 4 * MiB], [200 * MiB - 1, 4 * MiB], [200 * MiB, 4 * MiB], [200 * MiB + 1, 4 * MiB],
    [300 * MiB - 1, 4 * MiB], [300 * MiB, 5 * MiB], [GiB, 12 * MiB], [Math.floor(1.3 * GiB), 15 * MiB],
    [1300 * MiB - 1, 14 * MiB], [1300 * MiB, 15 * MiB], [10 * GiB, 15 * MiB], [2 ** 50, 15 * MiB],
  ];
  for (const [totalBytes, expected] of cases) assert.is(pieceSize(totalBytes), expected, `pieceSize(${totalBytes})`);
});

test('plans: piece counts, a short last piece, fixed sizes and the empty file', () => {
  assert.equal(planPieces(GiB), { totalBytes: GiB, pieceSizeBytes: 12 * MiB, pieceCount: 86 });
  assert.is(pieceBytes(planPieces(GiB), 85), GiB - 85 * 12 * MiB);
  assert.equal(planPieces(10 * MiB), { totalBytes: 10 * MiB, pieceSizeBytes: 4 * MiB, pieceCount: 3 });
  assert.equal(pieceRange(planPieces(10 * MiB), 2), { startByte: 8 * MiB, endByte: 10 * MiB });
  assert.equal(planPieces(8 * MiB), { totalBytes: 8 * MiB, pieceSizeBytes: 4 * MiB, pieceCount: 2 });
  assert.equal(planPieces(1000, 300), { totalBytes: 1000, pieceSizeBytes: 300, pieceCount: 4 });
  assert.equal(planPieces(0), { totalBytes: 0, pieceSizeBytes: 4 * MiB, pieceCount: 0 });
});

test('bad sizes and piece indices are refused with the value in the message', () => {
  for (const bad of [-1, 1.5, Number.NaN, 2 ** 53]) assert.throws(() => planPieces(bad), /whole number of bytes/);
  const plan = planPieces(10 * MiB);
  for (const bad of [-1, 3, 0.5]) assert.throws(() => pieceRange(plan, bad), new RegExp(`piece ${bad} outside 0..2`));
  assert.throws(() => pieceRange(planPieces(0), 0), /outside/);
});

test('property: pieces cover [0, total) exactly once, all full but the last', () => {
  const totalArb = fc.oneof(fc.nat({ max: 64 * MiB }), fc.integer({ min: 190 * MiB, max: 12 * GiB }), fc.constantFrom(0, 1, 200 * MiB - 1, 200 * MiB, 200 * MiB + 1));
  // A fixed piece size, as a fraction of the file, kept to at most 20,000 pieces so the walk stays fast.
  const fixedArb = fc.oneof(fc.constant(0), fc.double({ min: 0, max: 1, noNaN: true }));
  checkProperty(import.meta.url, 'exact cover', fc.property(totalArb, fixedArb, (totalBytes, fixedFraction) => {
    const fixedPieceBytes = fixedFraction === 0 ? 0 : Math.max(1, Math.ceil(totalBytes / 20_000), Math.floor(fixedFraction * totalBytes));
    const plan = planPieces(totalBytes, fixedPieceBytes);
    assert.is(plan.pieceSizeBytes, fixedPieceBytes > 0 ? fixedPieceBytes : pieceSize(totalBytes));
    let coveredTo = 0;
    for (let i = 0; i < plan.pieceCount; i++) {
      const { startByte, endByte } = pieceRange(plan, i);
      assert.is(startByte, coveredTo, `piece ${i} starts at ${startByte}, previous ended at ${coveredTo}`);
      const size = endByte - startByte;
      if (i < plan.pieceCount - 1) assert.is(size, plan.pieceSizeBytes);
      else assert.ok(size > 0 && size <= plan.pieceSizeBytes, `last piece of ${size} bytes`);
      coveredTo = endByte;
    }
    assert.is(coveredTo, totalBytes);
  }), { numRuns: 300 });
});

test('property: the seed rule gives whole MiB from 4 to 15, never shrinking as files grow', () => {
  checkProperty(import.meta.url, 'monotone size', fc.property(fc.maxSafeNat(), fc.maxSafeNat(), (a, b) => {
    const [small, large] = a <= b ? [a, b] : [b, a];
    const size = pieceSize(small);
    assert.ok(size % MiB === 0 && size >= 4 * MiB && size <= 15 * MiB, `${size}`);
    assert.ok(pieceSize(large) >= size);
  }), { numRuns: 1000 });
});

test.run();
