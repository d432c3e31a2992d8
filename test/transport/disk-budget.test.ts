/**
 * The DiskBudget driver over a scripted store: when it lists the store (first write, over the
 * limit, stale listing in the background), that reserved bytes count, that passes do not overlap,
 * and that a store held over its limit by pinned entries is not listed on every write.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { EvictionEntry } from '../../core/eviction.ts';
import { DiskBudget, type BudgetedStore } from '../../transport/disk-budget.ts';

class ScriptedStore implements BudgetedStore {
  entries = new Map<string, EvictionEntry>();
  listings = 0;
  add(key: string, sizeBytes: number, lastUsedMs: number, pinned = false): void {
    this.entries.set(key, { key, sizeBytes, lastUsedMs, pinned });
  }
  async listEntries(): Promise<EvictionEntry[]> {
    this.listings++;
    await new Promise((r) => setTimeout(r, 1));
    return [...this.entries.values()].map((e) => ({ ...e }));
  }
  async removeEntry(key: string): Promise<boolean> {
    if (this.entries.get(key)?.pinned) return false;
    return this.entries.delete(key);
  }
}

function budgetOver(store: ScriptedStore, maxBytes: number, clock: { ms: number }, evicted: string[] = []): DiskBudget {
  return new DiskBudget(store, {
    dir: '/unused', limit: { kind: 'bytes', maxBytes }, nowEpochMs: () => clock.ms, onEvicted: (e) => evicted.push(...e.map((x) => x.key)),
  });
}

test('the first write lists the store; writes under the limit then cost no listing', async () => {
  const store = new ScriptedStore();
  const clock = { ms: 1000 };
  const budget = budgetOver(store, 100, clock);
  await budget.reserve(10);
  await budget.reserve(10);
  await budget.reserve(10);
  assert.is(store.listings, 1);
  assert.is(budget.knownBytes, 30);
});

test('a write that would pass the limit evicts first, counting the incoming bytes', async () => {
  const store = new ScriptedStore();
  store.add('old', 50, 1);
  store.add('mid', 30, 2);
  const clock = { ms: 1000 };
  const evicted: string[] = [];
  const budget = budgetOver(store, 100, clock, evicted);
  await budget.reserve(10);
  assert.equal(evicted, []);
  await budget.reserve(30);
  assert.equal(evicted, ['old'], '80 + 30 > 100: down to 80 % (80) counting the 30 incoming');
  assert.is(budget.knownBytes, 60);
});

test('writers in parallel: one that arrives during another\'s pass is counted in a pass of its own', async () => {
  const store = new ScriptedStore();
  store.add('old', 40, 1);
  store.add('writing', 40, 2, true);
  const clock = { ms: 1000 };
  const evicted: string[] = [];
  const budget = budgetOver(store, 100, clock, evicted);
  await budget.reserve(0);
  await budget.reserve(15); // a write that never landed: the count (95) errs high until a listing
  // A's pass lists 80 + 10: it fits. B arrives during that pass; 80 + 10 + 15 does not fit.
  const a = budget.reserve(10).then(() => store.add('a', 10, 3, true));
  const b = budget.reserve(15).then(() => store.add('b', 15, 4, true));
  await Promise.all([a, b]);
  assert.equal(evicted, ['old'], 'B\'s own pass evicts');
  assert.is(budget.knownBytes, 65);
});

test('a stale listing is redone in the background after a write, catching files removed behind the store', async () => {
  const store = new ScriptedStore();
  store.add('a', 90, 1);
  const clock = { ms: 1000 };
  const budget = budgetOver(store, 100, clock);
  await budget.reserve(5);
  store.entries.delete('a');
  clock.ms += 61_000;
  await budget.reserve(5);
  assert.is(budget.knownBytes, 100, 'the write did not wait for the rescan');
  await budget.enforce();
  assert.is(store.listings, 2, 'one background pass, joined by enforce()');
  assert.ok(budget.knownBytes <= 5, `known ${budget.knownBytes} bytes after a rescan`);
});

test('concurrent passes are one; pinned entries over the limit are retried once a second, not per write', async () => {
  const store = new ScriptedStore();
  store.add('pinned', 200, 1, true);
  const clock = { ms: 1000 };
  const budget = budgetOver(store, 100, clock);
  const [p1, p2] = [budget.enforce(), budget.enforce()];
  assert.is(p1, p2);
  await p1;
  assert.is(store.listings, 1);
  for (let i = 0; i < 10; i++) await budget.reserve(1);
  assert.is(store.listings, 1, 'stuck over the limit: no listing per write');
  clock.ms += 1000;
  await budget.reserve(1);
  assert.is(store.listings, 2, 'retried after a second');
});

test.run();
