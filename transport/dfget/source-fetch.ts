/**
 * Back to source: download the whole file straight from its URL (no supernode reachable, or
 * `--pattern source`) into the data file, within the task's rate limits. Reports pieces as their
 * byte ranges fill up so in-process callers can stream them, and hashes the file as it arrives.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import type { TokenBucket } from '../../core/token-bucket.ts';
import { planPieces, type PiecePlan } from '../../core/pieces.ts';
import { throttle } from '../throttle.ts';

export interface SourceFetchOptions {
  url: string;
  headers: Record<string, string>;
  dataPath: string;
  buckets: readonly TokenBucket[];
  signal: AbortSignal;
  /** The length is known (from Content-Length); the data file is about to be written. */
  onPlan(plan: PiecePlan): void;
  /** Bytes up to `endByte` are written. */
  onBytes(endByte: number): void;
}

export interface SourceFetchResult {
  plan: PiecePlan;
  fileDigest: string;
}

export class SourceError extends Error {
  constructor(message: string, readonly status?: number) { super(message); }
}

export async function fetchFromSource(opts: SourceFetchOptions): Promise<SourceFetchResult> {
  let res: Response;
  try {
    res = await fetch(opts.url, { headers: opts.headers, signal: opts.signal, redirect: 'follow' });
  } catch (err) {
    if (opts.signal.aborted) throw opts.signal.reason;
    const cause = (err as { cause?: NodeJS.ErrnoException }).cause;
    throw new SourceError(`cannot reach the source ${opts.url} (${cause?.code ?? (err as Error).message})`);
  }
  if (res.status !== 200) {
    await res.body?.cancel();
    throw new SourceError(`the source answered ${res.status} ${res.statusText} for ${opts.url}`, res.status);
  }
  const lengthHeader = res.headers.get('content-length');
  const expectedBytes = lengthHeader !== null && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : null;
  if (expectedBytes !== null) opts.onPlan(planPieces(expectedBytes));
  const hash = createHash('sha256');
  const handle = await fs.open(opts.dataPath, 'w');
  let written = 0;
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      await throttle(opts.buckets, chunk.length, opts.signal);
      hash.update(chunk);
      let done = 0;
      while (done < chunk.length) done += (await handle.write(chunk, done, chunk.length - done, written + done)).bytesWritten;
      written += chunk.length;
      opts.onBytes(written);
    }
  } catch (err) {
    if (opts.signal.aborted) throw opts.signal.reason;
    throw new SourceError(`download from the source broke off after ${written} bytes (${(err as Error).message})`);
  } finally {
    await handle.close();
  }
  if (expectedBytes !== null && written !== expectedBytes) {
    throw new SourceError(`the source sent ${written} bytes but announced ${expectedBytes}`);
  }
  const plan = planPieces(written);
  if (expectedBytes === null) opts.onPlan(plan);
  return { plan, fileDigest: `sha256:${hash.digest('hex')}` };
}
