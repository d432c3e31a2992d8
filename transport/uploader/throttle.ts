/**
 * Waiting on core token buckets in real time. The bucket (core/token-bucket.ts) decides how long
 * `bytes` must wait; this only sleeps that long and then takes the tokens from every bucket, so
 * one transfer honours the per-task and the per-node limit together.
 */
import type { TokenBucket } from '../../core/token-bucket.ts';

export const monotonicNowMs = (): number => performance.now();

/** Resolves once `bytes` may pass every bucket, having consumed them; rejects when aborted. */
export async function throttle(buckets: readonly TokenBucket[], bytes: number, signal?: AbortSignal): Promise<void> {
  for (;;) {
    signal?.throwIfAborted();
    const nowMs = monotonicNowMs();
    let waitMs = 0;
    for (const bucket of buckets) waitMs = Math.max(waitMs, bucket.delayMs(nowMs, bytes));
    if (waitMs <= 0) {
      for (const bucket of buckets) bucket.consume(nowMs, bytes);
      return;
    }
    await sleepMs(Math.ceil(waitMs), signal);
  }
}

function sleepMs(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(); }, ms);
    const onAbort = (): void => { clearTimeout(timer); reject(signal?.reason); };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
