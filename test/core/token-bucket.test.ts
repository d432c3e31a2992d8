import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { checkProperty } from '../helpers/fc-rerun.ts';
import { TokenBucket, defaultBurstBytes } from '../../core/token-bucket.ts';

const KiB = 1024;
const MiB = KiB * KiB;

test('default burst is 100 ms of the rate, at least 64 KiB', () => {
  assert.is(defaultBurstBytes(10 * MiB), Math.ceil(MiB));
  assert.is(defaultBurstBytes(100 * KiB), 64 * KiB);
  assert.is(new TokenBucket(40 * MiB).burstBytes, 4 * MiB);
  assert.is(new TokenBucket(1000, 500).burstBytes, 500);
});

test('a fresh bucket lets its burst through, then meters at the rate', () => {
  const bucket = new TokenBucket(1_000_000, 100_000);
  assert.is(bucket.delayMs(5000, 100_000), 0);
  assert.ok(bucket.tryTake(5000, 100_000));
  assert.is(bucket.delayMs(5000, 1000), 1);
  assert.not.ok(bucket.tryTake(5000, 1000));
  assert.ok(bucket.tryTake(5001, 1000));
  assert.is(bucket.delayMs(5011, 50_000), 40);
});

test('a request larger than the burst passes when full and leaves debt the next request waits out', () => {
  const bucket = new TokenBucket(1_000_000, 100_000);
  assert.ok(bucket.tryTake(0, 4_000_000));
  assert.is(bucket.tokensAt(0), -3_900_000);
  assert.is(bucket.delayMs(0, 1000), 3901);
  assert.not.ok(bucket.tryTake(3900, 1000));
  assert.ok(bucket.tryTake(3901, 1000));
});

test('consume takes unconditionally and the debt delays later requests', () => {
  const bucket = new TokenBucket(1000, 1000);
  bucket.consume(0, 3000);
  assert.is(bucket.tokensAt(0), -2000);
  assert.is(bucket.delayMs(0, 500), 2500);
  assert.is(bucket.tokensAt(10_000), 1000);
});

test('rate 0 never delays, whatever is taken', () => {
  checkProperty(import.meta.url, 'rate 0 never delays', fc.property(
    fc.array(fc.tuple(fc.nat({ max: 1000 }), fc.nat({ max: 2 ** 40 }), fc.boolean()), { maxLength: 50 }),
    (steps) => {
      const bucket = new TokenBucket(0);
      let nowMs = 0;
      for (const [advanceMs, bytes, useConsume] of steps) {
        nowMs += advanceMs;
        assert.is(bucket.delayMs(nowMs, bytes), 0);
        if (useConsume) bucket.consume(nowMs, bytes);
        else assert.ok(bucket.tryTake(nowMs, bytes));
      }
      assert.ok(bucket.unlimited);
    },
  ));
});

test('time going back, negative or non-finite inputs throw with the values in the message', () => {
  const bucket = new TokenBucket(1000);
  bucket.delayMs(100, 1);
  assert.throws(() => bucket.tryTake(99, 1), /time went back: 99 < 100/);
  assert.throws(() => bucket.consume(100, -1), /byte count.*-1/);
  assert.throws(() => bucket.delayMs(Number.NaN, 1), /finite/);
  assert.throws(() => new TokenBucket(-5), /rate.*-5/);
  assert.throws(() => new TokenBucket(Number.POSITIVE_INFINITY), /rate/);
  assert.throws(() => new TokenBucket(1000, 0), /burst.*0/);
  assert.is(bucket.tokensAt(100), bucket.burstBytes - 0, 'failed calls took nothing');
});

/**
 * Buckets whose refill time (burst / rate) is comparable to the time steps: independent draws
 * would mostly give buckets that refill in a nanosecond or never, where nothing interesting happens.
 */
const bucketArb = fc.record({
  rate: fc.integer({ min: 1, max: 1_000_000_000 }),
  refillMs: fc.integer({ min: 1, max: 2000 }),
}).map(({ rate, refillMs }) => ({ rate, burst: Math.max(1, Math.floor((rate * refillMs) / 1000)) }));
const stepsArb = (maxRequestInBursts: number) => fc.array(fc.tuple(
  fc.oneof(fc.constant(0), fc.double({ min: 0, max: 3, noNaN: true })),
  fc.double({ min: 0, max: maxRequestInBursts, noNaN: true }),
), { minLength: 1, maxLength: 200 });
/** Time advance, drawn in refill times, in ms. */
const advanceMs = (rate: number, burst: number, refills: number) => (refills * burst * 1000) / rate;

test('property: bytes let through in any window of t ms never exceed rate × t + burst (requests within the burst)', () => {
  checkProperty(import.meta.url, 'within-burst bound', fc.property(
    bucketArb, stepsArb(1),
    ({ rate, burst }, steps) => {
      const bucket = new TokenBucket(rate, burst);
      const takes: { atMs: number; bytes: number }[] = [];
      let nowMs = 0;
      for (const [refills, fraction] of steps) {
        nowMs += advanceMs(rate, burst, refills);
        const bytes = Math.floor(fraction * burst);
        if (!bucket.tryTake(nowMs, bytes)) continue;
        takes.push({ atMs: nowMs, bytes });
        // Every window ending now, starting at an earlier take (the worst starts) or at time 0.
        let windowBytes = 0;
        for (let i = takes.length - 1; i >= 0; i--) {
          windowBytes += takes[i].bytes;
          const boundBytes = (rate * (nowMs - takes[i].atMs)) / 1000 + burst;
          assert.ok(windowBytes <= boundBytes * (1 + 1e-9), `${windowBytes} bytes in [${takes[i].atMs}, ${nowMs}] ms > bound ${boundBytes}`);
        }
      }
    },
  ), { numRuns: 300 });
});

test('property: with oversized requests the excess over the bound is at most one request beyond the burst', () => {
  checkProperty(import.meta.url, 'oversized bound', fc.property(
    bucketArb, stepsArb(8),
    ({ rate, burst }, steps) => {
      const bucket = new TokenBucket(rate, burst);
      let nowMs = 0;
      let passedBytes = 0;
      let largestBytes = 0;
      for (const [refills, multiple] of steps) {
        nowMs += advanceMs(rate, burst, refills);
        const bytes = Math.floor(multiple * burst);
        if (bucket.tryTake(nowMs, bytes)) {
          passedBytes += bytes;
          largestBytes = Math.max(largestBytes, bytes);
        }
        const boundBytes = (rate * nowMs) / 1000 + Math.max(burst, largestBytes);
        assert.ok(passedBytes <= boundBytes * (1 + 1e-9), `${passedBytes} bytes by ${nowMs} ms > bound ${boundBytes}`);
      }
    },
  ), { numRuns: 300 });
});

test('property: waiting the advertised delay is always enough, and a greedy sender gets the full rate', () => {
  checkProperty(import.meta.url, 'delay is enough', fc.property(
    bucketArb, fc.array(fc.double({ min: 0, max: 4, noNaN: true }), { minLength: 1, maxLength: 100 }),
    ({ rate, burst }, multiples) => {
      const bucket = new TokenBucket(rate, burst);
      let nowMs = 0;
      let passedBytes = 0;
      for (const multiple of multiples) {
        const bytes = Math.floor(multiple * burst);
        nowMs += bucket.delayMs(nowMs, bytes);
        assert.ok(bucket.tryTake(nowMs, bytes), `request of ${bytes} refused after waiting its delay`);
        passedBytes += bytes;
      }
      // A greedy sender is limited only by the rate: it is never held back by more than one burst.
      assert.ok(passedBytes + burst >= (rate * nowMs) / 1000 * (1 - 1e-9), `${passedBytes} bytes in ${nowMs} ms at ${rate} B/s`);
    },
  ), { numRuns: 300 });
});

/**
 * Model: the ledger of every take since the first call, folded from scratch on each question. It
 * shares no state with the bucket, so stale `lastMs` or refill bugs in the bucket disagree with it.
 */
interface Model {
  rate: number;
  burst: number;
  nowMs: number;
  /** Time of the latest call into the bucket: going back is measured from it. */
  lastCallMs: number | null;
  ledger: { atMs: number; bytes: number }[];
}

function modelTokens(m: Model): number {
  let tokens = m.burst;
  let lastMs = m.ledger.length > 0 ? m.ledger[0].atMs : m.nowMs;
  for (const entry of [...m.ledger, { atMs: m.nowMs, bytes: 0 }]) {
    tokens = Math.min(m.burst, tokens + (m.rate * (entry.atMs - lastMs)) / 1000) - entry.bytes;
    lastMs = entry.atMs;
  }
  return tokens;
}

function closeTo(actual: number, expected: number, scale: number): boolean {
  return Math.abs(actual - expected) <= 1e-6 * Math.max(1, scale, Math.abs(expected));
}

class Advance implements fc.Command<Model, TokenBucket> {
  constructor(readonly byMs: number) {}
  check(): boolean { return true; }
  run(m: Model): void { m.nowMs += this.byMs; }
  toString(): string { return `advance(${this.byMs})`; }
}

class TryTake implements fc.Command<Model, TokenBucket> {
  constructor(readonly bytes: number) {}
  check(): boolean { return true; }
  run(m: Model, bucket: TokenBucket): void {
    const tokens = modelTokens(m);
    const need = Math.min(this.bytes, m.burst);
    const taken = bucket.tryTake(m.nowMs, this.bytes);
    m.lastCallMs = m.nowMs;
    // Within rounding of the boundary either answer is right; elsewhere the model decides.
    if (!closeTo(tokens, need, m.burst)) assert.is(taken, tokens >= need, `tokens ${tokens}, need ${need}`);
    if (taken) m.ledger.push({ atMs: m.nowMs, bytes: this.bytes });
    assert.ok(closeTo(bucket.tokensAt(m.nowMs), modelTokens(m), m.burst));
  }
  toString(): string { return `tryTake(${this.bytes})`; }
}

class Consume implements fc.Command<Model, TokenBucket> {
  constructor(readonly bytes: number) {}
  check(): boolean { return true; }
  run(m: Model, bucket: TokenBucket): void {
    bucket.consume(m.nowMs, this.bytes);
    m.lastCallMs = m.nowMs;
    m.ledger.push({ atMs: m.nowMs, bytes: this.bytes });
    assert.ok(closeTo(bucket.tokensAt(m.nowMs), modelTokens(m), m.burst));
  }
  toString(): string { return `consume(${this.bytes})`; }
}

class AskDelay implements fc.Command<Model, TokenBucket> {
  constructor(readonly bytes: number) {}
  check(): boolean { return true; }
  run(m: Model, bucket: TokenBucket): void {
    const missing = Math.min(this.bytes, m.burst) - modelTokens(m);
    const expectedMs = missing > 0 ? (missing * 1000) / m.rate : 0;
    const delayMs = bucket.delayMs(m.nowMs, this.bytes);
    m.lastCallMs = m.nowMs;
    assert.ok(closeTo(delayMs, expectedMs, (m.burst * 1000) / m.rate), `delay ${delayMs} ms, model ${expectedMs} ms`);
  }
  toString(): string { return `delayMs(${this.bytes})`; }
}

class GoBack implements fc.Command<Model, TokenBucket> {
  check(m: Model): boolean { return m.lastCallMs !== null; }
  run(m: Model, bucket: TokenBucket): void {
    assert.throws(() => bucket.tryTake((m.lastCallMs ?? 0) - 1, 1), /time went back/);
    m.lastCallMs = m.nowMs;
    assert.ok(closeTo(bucket.tokensAt(m.nowMs), modelTokens(m), m.burst), 'a refused call changed the bucket');
  }
  toString(): string { return 'goBack'; }
}

test('model: tryTake, consume and delayMs agree with a ledger folded from scratch', () => {
  const bytesArb = fc.integer({ min: 0, max: 4 * MiB });
  const commands = [
    fc.integer({ min: 0, max: 3000 }).map((ms) => new Advance(ms)),
    bytesArb.map((bytes) => new TryTake(bytes)),
    bytesArb.map((bytes) => new Consume(bytes)),
    bytesArb.map((bytes) => new AskDelay(bytes)),
    fc.constant(new GoBack()),
  ];
  checkProperty(import.meta.url, 'ledger model', fc.property(
    fc.integer({ min: 1, max: 100 * MiB }), fc.integer({ min: 1, max: 2 * MiB }), fc.commands(commands, { maxCommands: 80 }),
    (rate, burst, cmds) => {
      fc.modelRun(() => ({ model: { rate, burst, nowMs: 0, lastCallMs: null, ledger: [] }, real: new TokenBucket(rate, burst) }), cmds);
    },
  ), { numRuns: 300 });
});

test.run();
