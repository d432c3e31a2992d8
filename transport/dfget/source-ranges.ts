/**
 * Back to source for only the pieces a download lacks (the core's `fetch-source` with `missing`):
 * one ranged GET per range, in order, each answer checked — a 206 whose Content-Range is exactly
 * the range asked for, of the plan's length — and written into the data file at its offset, within
 * the task's rate limits. Pieces are announced as their bytes land, so in-process callers
 * (dfdaemon) can stream them.
 *
 * A source that ignores Range (200), answers another range or another length cannot be stitched
 * to the pieces held: `RangesUnusable` tells the caller to fetch the whole file instead. Whether
 * the stitched file is right is the caller's check (its whole-file digest).
 */
import type { FileHandle } from 'node:fs/promises';
import { promises as fs } from 'node:fs';
import type { ByteRange } from '../../core/peer-io.ts';
import { pieceRange, type PiecePlan } from '../../core/pieces.ts';
import type { TokenBucket } from '../../core/token-bucket.ts';
import { parseContentRange } from '../http-range.ts';
import { throttle } from '../throttle.ts';
import { SourceError } from './source-fetch.ts';

export class RangesUnusable extends Error {}

export interface RangeFetchOptions {
  url: string;
  headers: Record<string, string>;
  dataPath: string;
  buckets: readonly TokenBucket[];
  signal: AbortSignal;
  plan: PiecePlan;
  ranges: readonly ByteRange[];
  /** Bytes [startByte, endByte) of `piece` are written. */
  onPiece(piece: number, startByte: number, endByte: number): void;
  /** `bytes` more came from the source. */
  onBytes(bytes: number): void;
}

/** Fetch every range into the data file; returns the bytes the source sent. */
export async function fetchRangesFromSource(opts: RangeFetchOptions): Promise<number> {
  const handle = await fs.open(opts.dataPath, 'r+');
  let sent = 0;
  try {
    for (const range of opts.ranges) sent += await fetchRange(opts, handle, range);
  } finally {
    await handle.close();
  }
  return sent;
}

async function request(opts: RangeFetchOptions, range: ByteRange): Promise<Response> {
  try {
    return await fetch(opts.url, {
      headers: { ...opts.headers, range: `bytes=${range.startByte}-${range.endByte - 1}` }, signal: opts.signal, redirect: 'follow',
    });
  } catch (err) {
    if (opts.signal.aborted) throw opts.signal.reason;
    const cause = (err as { cause?: NodeJS.ErrnoException }).cause;
    throw new SourceError(`cannot reach the source ${opts.url} (${cause?.code ?? (err as Error).message})`);
  }
}

async function fetchRange(opts: RangeFetchOptions, handle: FileHandle, range: ByteRange): Promise<number> {
  const res = await request(opts, range);
  const asked = `bytes ${range.startByte}-${range.endByte - 1}/${opts.plan.totalBytes}`;
  if (res.status === 200) {
    await res.body?.cancel();
    throw new RangesUnusable(`the source ignores Range requests (200 for ${asked})`);
  }
  if (res.status !== 206) {
    await res.body?.cancel();
    throw new SourceError(`the source answered ${res.status} ${res.statusText} for ${opts.url} (${asked})`, res.status);
  }
  const got = parseContentRange(res.headers.get('content-range'));
  if (!got || got.startByte !== range.startByte || got.endByte !== range.endByte || (got.totalBytes !== null && got.totalBytes !== opts.plan.totalBytes)) {
    await res.body?.cancel();
    throw new RangesUnusable(`the source answered Content-Range ${res.headers.get('content-range') ?? '(none)'} where ${asked} was asked: it changed, or cannot serve the range`);
  }
  let at = range.startByte;
  let piece = Math.floor(range.startByte / opts.plan.pieceSizeBytes);
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      if (at + chunk.length > range.endByte) throw new SourceError(`the source sent more than the ${range.endByte - range.startByte} bytes of ${asked}`);
      await throttle(opts.buckets, chunk.length, opts.signal);
      let done = 0;
      while (done < chunk.length) done += (await handle.write(chunk, done, chunk.length - done, at + done)).bytesWritten;
      at += chunk.length;
      opts.onBytes(chunk.length);
      for (; piece < opts.plan.pieceCount; piece++) {
        const { startByte, endByte } = pieceRange(opts.plan, piece);
        if (endByte > at) break;
        opts.onPiece(piece, startByte, endByte);
      }
    }
  } catch (err) {
    if (opts.signal.aborted) throw opts.signal.reason;
    if (err instanceof SourceError || typeof (err as NodeJS.ErrnoException).syscall === 'string') throw err;
    throw new SourceError(`download of ${asked} from the source broke off after ${at - range.startByte} bytes (${(err as Error).message})`);
  }
  if (at !== range.endByte) throw new SourceError(`the source sent ${at - range.startByte} of the ${range.endByte - range.startByte} bytes of ${asked}`);
  return at - range.startByte;
}
