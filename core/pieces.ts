/**
 * Piece math, per the seed: a file under 200 MiB (or of unknown size) is cut into 4 MiB pieces;
 * a larger one into min(floor(total / 100 MiB) + 2, 15) MiB pieces (1 GiB -> 12 MiB,
 * 1.3 GiB -> 15 MiB). The last piece holds the remainder.
 */
export const MiB = 1024 * 1024;
const SMALL_FILE_LIMIT_BYTES = 200 * MiB;
const DEFAULT_PIECE_BYTES = 4 * MiB;
const MAX_RULE_PIECE_BYTES = 15 * MiB;
/** Largest piece the protocol carries in one data-plane frame (a fixed piece size above it is refused). */
export const MAX_PIECE_BYTES = 16 * MiB;
/** Smallest fixed piece size: below it a piece costs more in round trips than in transfer. */
export const MIN_FIXED_PIECE_BYTES = 64 * 1024;

export function pieceSize(totalBytes: number | null): number {
  if (totalBytes === null || totalBytes < SMALL_FILE_LIMIT_BYTES) return DEFAULT_PIECE_BYTES;
  return Math.min((Math.floor(totalBytes / (100 * MiB)) + 2) * MiB, MAX_RULE_PIECE_BYTES);
}

export interface PiecePlan {
  totalBytes: number;
  pieceSizeBytes: number;
  pieceCount: number;
}

/** The plan for a file; `fixedPieceBytes` > 0 overrides the seed's rule. */
export function planPieces(totalBytes: number, fixedPieceBytes = 0): PiecePlan {
  if (!Number.isSafeInteger(totalBytes) || totalBytes < 0) throw new Error(`file size must be a whole number of bytes, got ${totalBytes}`);
  const pieceSizeBytes = fixedPieceBytes > 0 ? fixedPieceBytes : pieceSize(totalBytes);
  return { totalBytes, pieceSizeBytes, pieceCount: Math.ceil(totalBytes / pieceSizeBytes) };
}

/** Byte range [startByte, endByte) of piece i. */
export function pieceRange(plan: PiecePlan, i: number): { startByte: number; endByte: number } {
  if (!Number.isInteger(i) || i < 0 || i >= plan.pieceCount) throw new Error(`piece ${i} outside 0..${plan.pieceCount - 1}`);
  const startByte = i * plan.pieceSizeBytes;
  return { startByte, endByte: Math.min(startByte + plan.pieceSizeBytes, plan.totalBytes) };
}

export function pieceBytes(plan: PiecePlan, i: number): number {
  const { startByte, endByte } = pieceRange(plan, i);
  return endByte - startByte;
}
