/**
 * HTTP byte ranges as the transport meets them in answers: the `Content-Range` of a 206 from a
 * source (the CDN) or an upstream registry (dfdaemon's fallback).
 */

export interface ContentRange {
  startByte: number;
  /** Exclusive. */
  endByte: number;
  /** Null when the sender wrote `*` (length unknown). */
  totalBytes: number | null;
}

/** `bytes START-END/TOTAL` → numbers; TOTAL may be `*`; anything else (or a reversed range) → null. */
export function parseContentRange(value: string | null | undefined): ContentRange | null {
  const match = value ? /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(value.trim()) : null;
  if (!match) return null;
  const startByte = Number(match[1]);
  const endByte = Number(match[2]) + 1;
  if (endByte <= startByte) return null;
  return { startByte, endByte, totalBytes: match[3] === '*' ? null : Number(match[3]) };
}
