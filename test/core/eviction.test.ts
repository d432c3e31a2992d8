import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { checkProperty } from '../helpers/fc-rerun.ts';
import {
  evictionLimits, highWatermarkBytes, parseDiskLimit, planEviction, type EvictionEntry,
} from '../../core/eviction.ts';
import { parseBytes } from '../../core/units.ts';

const MiB = 1024 * 1024;
const entry = (key: string, sizeMiB: number, lastUsedMs: number, pinned = false): EvictionEntry =>
  ({ key, sizeBytes: sizeMiB * MiB, lastUsedMs, pinned });
const keys = (plan: ReturnType<typeof planEviction>) => plan.evict.map((e) => e.key);

test('under the high watermark nothing is evicted, even above the low one', () => {
  const plan = planEviction(1000, [entry('a', 30, 1), entry('b', 30, 2)], { highBytes: 64 * MiB, lowBytes: 32 * MiB });
  assert.equal(plan.evict, []);
  assert.is(plan.remainingBytes, 60 * MiB);
  assert.is(plan.overBytes, 0);
});

test('over the high watermark the least recently used go until the store is at the low one', () => {
  const entries = [entry('new', 32, 300), entry('old', 32, 100), entry('mid', 32, 200)];
  const plan = planEviction(1000, entries, { highBytes: 64 * MiB, lowBytes: 51 * MiB });
  assert.equal(keys(plan), ['old', 'mid']);
  assert.equal(plan.evict.map((e) => e.reason), ['over-limit', 'over-limit']);
  assert.is(plan.remainingBytes, 32 * MiB);
  assert.is(plan.overBytes, 0);
});

test('eviction stops exactly at the low watermark', () => {
  const entries = [entry('a', 10, 1), entry('b', 20, 2), entry('c', 20, 3)];
  const plan = planEviction(0, entries, { highBytes: 45 * MiB, lowBytes: 40 * MiB });
  assert.equal(keys(plan), ['a']);
  assert.is(plan.remainingBytes, 40 * MiB);
});

test('a pinned entry is skipped however old; the next oldest goes instead', () => {
  const entries = [entry('writing', 32, 1, true), entry('served', 32, 2, true), entry('idle', 32, 3)];
  const plan = planEviction(1000, entries, { highBytes: 64 * MiB, lowBytes: 51 * MiB });
  assert.equal(keys(plan), ['idle']);
  assert.is(plan.remainingBytes, 64 * MiB);
  assert.is(plan.overBytes, 13 * MiB, 'pinned entries hold the store above the low watermark');
});

test('entries idle longer than maxIdleMs go whatever the size; pinned ones stay', () => {
  const entries = [entry('residual', 1, 0), entry('listed', 1, 0, true), entry('recent', 1, 3_000_000)];
  const plan = planEviction(3_700_000, entries, { highBytes: 1024 * MiB, lowBytes: 512 * MiB, maxIdleMs: 3_600_000 });
  assert.equal(plan.evict, [{ key: 'residual', sizeBytes: MiB, reason: 'idle' }]);
});

test('equal last use is broken by key, so one listing gives one plan', () => {
  const a = planEviction(0, [entry('b', 10, 5), entry('a', 10, 5), entry('c', 10, 5)], { highBytes: 15 * MiB, lowBytes: 15 * MiB });
  assert.equal(keys(a), ['a', 'b']);
});

test('a disk-use limit leaves the filesystem that share free; a size limit is itself', () => {
  const figures = { storeBytes: 10 * MiB, filesystemBytes: 1000 * MiB, availableBytes: 200 * MiB };
  // 90 %: keep 100 MiB free; 200 MiB are free now, so the store may grow by 100 MiB.
  assert.is(highWatermarkBytes({ kind: 'disk-use', maxPercent: 90 }, figures), 110 * MiB);
  // Other data filled the disk: the store must shrink to make room, never below zero.
  assert.is(highWatermarkBytes({ kind: 'disk-use', maxPercent: 90 }, { ...figures, availableBytes: 50 * MiB }), 0);
  assert.is(highWatermarkBytes({ kind: 'bytes', maxBytes: 64 * MiB }, figures), 64 * MiB);
  assert.equal(evictionLimits({ kind: 'bytes', maxBytes: 100 }, figures), { highBytes: 100, lowBytes: 80 });
  assert.equal(evictionLimits({ kind: 'bytes', maxBytes: 100 }, figures, 0.5), { highBytes: 100, lowBytes: 50 });
});

test('limit flags: sizes with units and shares of the disk; bad ones say what to write', () => {
  assert.equal(parseDiskLimit('64MiB', parseBytes), { kind: 'bytes', maxBytes: 64 * MiB });
  assert.equal(parseDiskLimit(' 90% ', parseBytes), { kind: 'disk-use', maxPercent: 90 });
  assert.equal(parseDiskLimit('12.5%', parseBytes), { kind: 'disk-use', maxPercent: 12.5 });
  for (const bad of ['0', '100%', '0%', 'lots', '-5GiB', '']) {
    const parsed = parseDiskLimit(bad, parseBytes);
    assert.is(parsed.kind, 'disk-limit-error', bad);
  }
  const error = parseDiskLimit('lots', parseBytes);
  assert.match('message' in error ? error.message : '', /expected a size \(64GiB\) or a share of the disk \(90%\)/);
});

const entriesArb = fc.uniqueArray(
  fc.record({
    key: fc.string({ minLength: 1, maxLength: 6 }),
    sizeBytes: fc.integer({ min: 0, max: 1000 }),
    lastUsedMs: fc.integer({ min: 0, max: 100 }),
    pinned: fc.boolean(),
  }),
  { selector: (e) => e.key, maxLength: 30 },
);
const limitsArb = fc.tuple(fc.integer({ min: 0, max: 20_000 }), fc.integer({ min: 0, max: 20_000 }), fc.option(fc.integer({ min: 0, max: 100 })))
  .map(([a, b, maxIdleMs]) => ({ highBytes: Math.max(a, b), lowBytes: Math.min(a, b), ...(maxIdleMs === null ? {} : { maxIdleMs }) }));

const order = (a: EvictionEntry, b: EvictionEntry) => a.lastUsedMs - b.lastUsedMs || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

test('property: never a pinned entry; bytes add up; under the limit only idle entries go', () => {
  checkProperty(import.meta.url, 'eviction-basics', fc.property(entriesArb, limitsArb, (entries, limits) => {
    const plan = planEviction(100, entries, limits);
    const byKey = new Map(entries.map((e) => [e.key, e]));
    const evicted = keys(plan);
    assert.is(new Set(evicted).size, evicted.length, 'no key twice');
    for (const key of evicted) assert.ok(byKey.get(key) && !byKey.get(key)!.pinned, `evicted ${key}: unknown or pinned`);
    const total = entries.reduce((s, e) => s + e.sizeBytes, 0);
    assert.is(plan.totalBytes, total);
    assert.is(plan.remainingBytes, total - plan.evict.reduce((s, e) => s + e.sizeBytes, 0));
    if (total <= limits.highBytes) assert.ok(plan.evict.every((e) => e.reason === 'idle'), 'under the limit only idle entries go');
  }));
});

test('property: over the limit the store reaches the low watermark unless only pinned entries are left', () => {
  checkProperty(import.meta.url, 'eviction-reaches-low', fc.property(entriesArb, limitsArb, (entries, limits) => {
    const plan = planEviction(100, entries, limits);
    if (plan.totalBytes <= limits.highBytes) return;
    const evicted = new Set(keys(plan));
    const everyUnpinnedGone = entries.every((e) => e.pinned || evicted.has(e.key));
    assert.ok(plan.remainingBytes <= limits.lowBytes || everyUnpinnedGone, 'stopped above the low watermark with entries left to evict');
    assert.is(plan.overBytes, Math.max(0, plan.remainingBytes - limits.lowBytes));
  }));
});

test('property: least recently used first, and no more than needed', () => {
  checkProperty(import.meta.url, 'eviction-lru-minimal', fc.property(entriesArb, limitsArb, (entries, limits) => {
    const plan = planEviction(100, entries, limits);
    const evicted = new Set(keys(plan));
    const overLimit = plan.evict.filter((e) => e.reason === 'over-limit').map((e) => entries.find((x) => x.key === e.key)!);
    const keptUnpinned = entries.filter((e) => !e.pinned && !evicted.has(e.key));
    for (const gone of overLimit) {
      for (const kept of keptUnpinned) assert.ok(order(gone, kept) < 0, `evicted ${gone.key} before older-or-equal ${kept.key}`);
    }
    const last = overLimit[overLimit.length - 1];
    if (last) assert.ok(plan.remainingBytes + last.sizeBytes > limits.lowBytes, `evicting ${last.key} was not needed`);
    if (limits.maxIdleMs !== undefined) {
      for (const e of entries) {
        if (!e.pinned && 100 - e.lastUsedMs > limits.maxIdleMs) assert.ok(evicted.has(e.key), `idle ${e.key} kept`);
      }
    }
  }));
});

test('property: the plan does not depend on the order entries are listed in', () => {
  checkProperty(import.meta.url, 'eviction-order-free', fc.property(entriesArb, limitsArb, fc.integer(), (entries, limits, seed) => {
    const shuffled = [...entries].sort((a, b) => ((a.key.charCodeAt(0) * seed) % 7) - ((b.key.charCodeAt(0) * seed) % 7));
    assert.equal(planEviction(100, shuffled, limits), planEviction(100, entries, limits));
  }));
});

test.run();
