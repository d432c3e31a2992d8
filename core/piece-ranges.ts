/**
 * Sets of pieces as ranges, the compact form the protocol carries them in (`register.have`): a
 * list of [first, end) pairs, ascending and disjoint. A seeder of a 200 GiB file (13,654 pieces)
 * sends [[0, 13654]], a resumed or migrating peer a few ranges around what it holds; a list of
 * every index grew with the file, past what one control frame may carry.
 *
 * At most `MAX_HAVE_RANGES` ranges travel in one message. A peer holding a more scattered set
 * sends the first ones only: claiming fewer pieces than it holds is safe (the supernode may
 * assign it a piece it has, which the peer settles as held at once).
 */
import type { Bitset } from './bitset.ts';

/** Pieces [first, end). */
export type PieceRange = [first: number, end: number];

/** Ranges one message may carry (2,048 ranges are at most ~40 KB of JSON). */
export const MAX_HAVE_RANGES = 2048;

/** The ranges of `set`, ascending; at most `maxRanges` (the first ones). */
export function rangesOf(set: Bitset, maxRanges = MAX_HAVE_RANGES): PieceRange[] {
  const ranges: PieceRange[] = [];
  const { words, size } = set;
  let start = -1;
  for (let w = 0; w < words.length; w++) {
    const word = words[w];
    // Whole words of 0s or 1s are the common case (sequential downloads): no bit loop.
    if (word === 0 && start < 0) continue;
    if (word === 0xffffffff && start >= 0) continue;
    for (let bit = 0; bit < 32; bit++) {
      const piece = w * 32 + bit;
      if (piece >= size) break;
      const held = (word & (1 << bit)) !== 0;
      if (held && start < 0) start = piece;
      else if (!held && start >= 0) {
        ranges.push([start, piece]);
        start = -1;
        if (ranges.length >= maxRanges) return ranges;
      }
    }
  }
  if (start >= 0) ranges.push([start, size]);
  return ranges;
}

/** Every piece of `pieceCount` pieces: one range (none for an empty file). */
export function allPieces(pieceCount: number): PieceRange[] {
  return pieceCount > 0 ? [[0, pieceCount]] : [];
}

/** Call `fn` for each piece in `ranges` below `pieceCount` (pieces past the plan are ignored). */
export function forEachPiece(ranges: readonly PieceRange[], pieceCount: number, fn: (piece: number) => void): void {
  for (const [first, end] of ranges) {
    const stop = Math.min(end, pieceCount);
    for (let piece = Math.max(0, first); piece < stop; piece++) fn(piece);
  }
}

/** How many pieces `ranges` name. */
export function piecesIn(ranges: readonly PieceRange[]): number {
  let count = 0;
  for (const [first, end] of ranges) count += end - first;
  return count;
}
