import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Blacklists } from '../../core/blacklist.ts';
import { checkProperty } from '../helpers/fc-rerun.ts';

const CFG = { globalBlacklistThreshold: 3, selfIsolationThreshold: 2, maxLocalBlacklist: 1000 };
const PEERS = 5;

/** The seed's rules, written as plainly as possible. */
class Model {
  local = new Set<string>();
  global = new Set<number>();
  isolated = new Set<number>();
  sourceFailures = new Map<number, number>();
  requesterFailures = new Map<number, number>();
}

type Real = { book: Blacklists };

function check(model: Model, real: Real): void {
  for (let a = 0; a < PEERS; a++) {
    assert.is(real.book.isIsolated(a), model.isolated.has(a), `isolated(${a})`);
    assert.is(real.book.isGloballyBlacklisted(a), model.global.has(a), `global(${a})`);
    for (let b = 0; b < PEERS; b++) {
      const allowed = !model.global.has(b) && !model.local.has(`${a}>${b}`);
      assert.is(real.book.allows(a, b), allowed, `allows(${a}, ${b})`);
    }
  }
}

class Failure implements fc.Command<Model, Real> {
  constructor(readonly requester: number, readonly source: number) {}
  check(): boolean { return true; }
  run(model: Model, real: Real): void {
    real.book.recordFailure(this.requester, this.source);
    if (this.requester !== this.source) {
      model.local.add(`${this.requester}>${this.source}`);
      const s = (model.sourceFailures.get(this.source) ?? 0) + 1;
      model.sourceFailures.set(this.source, s);
      if (s >= CFG.globalBlacklistThreshold) model.global.add(this.source);
      const r = (model.requesterFailures.get(this.requester) ?? 0) + 1;
      model.requesterFailures.set(this.requester, r);
      if (r > CFG.selfIsolationThreshold) { model.isolated.add(this.requester); model.global.add(this.requester); }
    }
    check(model, real);
  }
  toString(): string { return `fail(${this.requester} from ${this.source})`; }
}

class Success implements fc.Command<Model, Real> {
  constructor(readonly requester: number, readonly source: number) {}
  check(): boolean { return true; }
  run(model: Model, real: Real): void {
    real.book.recordSuccess(this.requester, this.source);
    model.sourceFailures.delete(this.source);
    model.requesterFailures.delete(this.requester);
    check(model, real);
  }
  toString(): string { return `ok(${this.requester} from ${this.source})`; }
}

test('blacklists and self-isolation follow the seed rules (model-based)', () => {
  const peer = fc.integer({ min: 0, max: PEERS - 1 });
  const commands = fc.commands([
    fc.tuple(peer, peer).map(([a, b]) => new Failure(a, b)),
    fc.tuple(peer, peer).map(([a, b]) => new Success(a, b)),
  ], { maxCommands: 60 });
  checkProperty(import.meta.url, 'blacklist-model', fc.property(commands, (cmds) => {
    fc.modelRun(() => ({ model: new Model(), real: { book: new Blacklists(CFG) } }), cmds);
  }), { numRuns: 300 });
});

test('success resets the counters but does not lift a blacklist', () => {
  const book = new Blacklists(CFG);
  book.recordFailure(0, 1);
  book.recordFailure(2, 1);
  book.recordSuccess(3, 1);
  book.recordFailure(3, 1);
  book.recordFailure(4, 1);
  assert.not.ok(book.isGloballyBlacklisted(1), 'two consecutive failures after a reset stay under 3');
  book.recordFailure(2, 1);
  assert.ok(book.isGloballyBlacklisted(1));
  book.recordSuccess(0, 1);
  assert.ok(book.isGloballyBlacklisted(1), 'global blacklist stays');
  assert.not.ok(book.allows(0, 1));
});

test('a local blacklist is bounded and forgets the oldest entry first', () => {
  const book = new Blacklists({ ...CFG, maxLocalBlacklist: 2, selfIsolationThreshold: 100, globalBlacklistThreshold: 100 });
  book.recordFailure(0, 1);
  book.recordFailure(0, 2);
  book.recordFailure(0, 3);
  assert.ok(book.allows(0, 1));
  assert.not.ok(book.allows(0, 2));
  assert.not.ok(book.allows(0, 3));
});

test.run();
