/**
 * Waiting on core token buckets in real time: the one token-bucket wait of every process (dfget's
 * `--locallimit` / `--totallimit`, the uploader's TX limit, the supernode's `--limit-in` and
 * `--limit-out`, the test origin's egress cap). The bucket (core/token-bucket.ts) decides how
 * long `bytes` must wait; this only sleeps that long and then takes the tokens from every bucket,
 * so one transfer honours a per-task and a per-node limit together.
 */
import type { TokenBucket } from '../core/token-bucket.ts';
import { CancelledError, monotonicNowMs, sleep } from './real-timer.ts';

/** Resolves once `bytes` may pass every bucket, having consumed them; rejects when aborted. */
export async function throttle(buckets: readonly TokenBucket[], bytes: number, signal?: AbortSignal): Promise<void> {
  for (;;) {
    if (signal?.aborted) throw new CancelledError();
    const nowMs = monotonicNowMs();
    let waitMs = 0;
    for (const bucket of buckets) waitMs = Math.max(waitMs, bucket.delayMs(nowMs, bytes));
    if (waitMs <= 0) {
      for (const bucket of buckets) bucket.consume(nowMs, bytes);
      return;
    }
    await sleep(Math.ceil(waitMs), signal);
  }
}
