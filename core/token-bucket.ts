/**
 * Token bucket: the rate limiter behind `--locallimit`, `--totallimit` and the supernode's input
 * and output limits, in both drivers.
 *
 * Theory of operation. The bucket holds up to `burstBytes` tokens and refills at
 * `rateBytesPerSec`; one token lets one byte through. It starts full at the first time it is
 * asked about (there is no clock inside: every call passes `nowMs`, which must never go back).
 * A request for `bytes` may pass once the bucket holds min(bytes, burst) tokens. A request larger
 * than the burst therefore still passes when the bucket is full, and leaves the bucket in debt
 * (negative tokens) that later requests wait out, so the long-run rate holds and a 15 MiB piece is
 * never starved by a 1 MiB burst. Consequence, tested as a property: the bytes let through by
 * time t (from the first call) never exceed `rateBytesPerSec × t + max(burstBytes, largest request)`,
 * and never exceed `rateBytesPerSec × t + burstBytes` when no request is larger than the burst.
 *
 *   call                     effect
 *   delayMs(now, bytes)      ms until `bytes` may pass (0 = now); takes nothing
 *   tryTake(now, bytes)      takes the tokens when they may pass now; says whether it did
 *   consume(now, bytes)      takes the tokens unconditionally (bytes that already moved), may add debt
 *
 * Rate 0 means unlimited: nothing is ever delayed. The default burst is max(100 ms of the rate,
 * 64 KiB): enough to smooth timer jitter in the real driver without letting a fresh bucket send
 * much more than the limit in any one second.
 */

const DEFAULT_BURST_MS = 100;
const MIN_DEFAULT_BURST_BYTES = 64 * 1024;
/**
 * Waiting exactly `delayMs` must be enough even though the refill arithmetic rounds: tokens this
 * close to the need (relative to the burst) count as enough. Far below one byte for any burst.
 */
const TOKEN_TOLERANCE = 1e-9;

export function defaultBurstBytes(rateBytesPerSec: number): number {
  return Math.max(Math.ceil((rateBytesPerSec * DEFAULT_BURST_MS) / 1000), MIN_DEFAULT_BURST_BYTES);
}

export class TokenBucket {
  readonly burstBytes: number;
  private tokens: number;
  private lastMs = -Infinity;

  constructor(readonly rateBytesPerSec: number, burstBytes?: number) {
    if (!Number.isFinite(rateBytesPerSec) || rateBytesPerSec < 0) {
      throw new Error(`rate must be a finite number of bytes per second >= 0 (0 = unlimited), got ${rateBytesPerSec}`);
    }
    this.burstBytes = burstBytes ?? defaultBurstBytes(rateBytesPerSec);
    if (!Number.isFinite(this.burstBytes) || this.burstBytes <= 0) {
      throw new Error(`burst must be a finite number of bytes > 0, got ${this.burstBytes}`);
    }
    this.tokens = this.burstBytes;
  }

  get unlimited(): boolean { return this.rateBytesPerSec === 0; }

  /** Milliseconds (possibly fractional) until `bytes` may pass; 0 = now. */
  delayMs(nowMs: number, bytes: number): number {
    this.refill(nowMs, bytes);
    if (this.unlimited) return 0;
    const missing = this.need(bytes) - this.tokens;
    if (missing <= TOKEN_TOLERANCE * this.burstBytes) return 0;
    return (missing * 1000) / this.rateBytesPerSec;
  }

  /** Take the tokens for `bytes` if they may pass now; returns whether they were taken. */
  tryTake(nowMs: number, bytes: number): boolean {
    if (this.delayMs(nowMs, bytes) > 0) return false;
    if (!this.unlimited) this.tokens -= bytes;
    return true;
  }

  /** Account for `bytes` that moved regardless (e.g. already received); may leave the bucket in debt. */
  consume(nowMs: number, bytes: number): void {
    this.refill(nowMs, bytes);
    if (!this.unlimited) this.tokens -= bytes;
  }

  /** Tokens held at nowMs; negative while in debt. */
  tokensAt(nowMs: number): number {
    this.refill(nowMs, 0);
    return this.unlimited ? Infinity : this.tokens;
  }

  private need(bytes: number): number {
    return Math.min(bytes, this.burstBytes);
  }

  private refill(nowMs: number, bytes: number): void {
    if (!Number.isFinite(nowMs)) throw new Error(`token bucket time must be a finite number of ms, got ${nowMs}`);
    if (nowMs < this.lastMs) throw new Error(`time went back: ${nowMs} < ${this.lastMs}`);
    if (!Number.isFinite(bytes) || bytes < 0) throw new Error(`byte count must be a finite number >= 0, got ${bytes}`);
    if (this.lastMs !== -Infinity && !this.unlimited) {
      this.tokens = Math.min(this.burstBytes, this.tokens + (this.rateBytesPerSec * (nowMs - this.lastMs)) / 1000);
    }
    this.lastMs = nowMs;
  }
}
