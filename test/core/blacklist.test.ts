import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { blameFor, Blacklists } from '../../core/blacklist.ts';
import { checkProperty } from '../helpers/fc-rerun.ts';

const CFG = { globalBlacklistThreshold: 3, selfIsolationThreshold: 2, maxLocalBlacklist: 1000 };
const PEERS = 6;

/**
 * The rules of blacklist.ts written as plainly as possible: a log of events, every question
 * answered by recomputing from it.
 */
class Model {
  local = new Set<string>();
  global = new Set<number>();
  isolated = new Set<number>();
  /** source -> accusers since its last success */
  accusers = new Map<number, Set<number>>();
  /** requester -> sources failed since its last success */
  failed = new Map<number, Set<number>>();
  credible = new Set<number>();
  discredited = new Set<number>();
  suspended = new Set<number>();
  probing = new Set<number>();
  confirmed = new Set<number>();
  gone = new Set<number>();
  probes: number[] = [];

  weighs(peer: number): boolean { return this.credible.has(peer) && !this.discredited.has(peer) && !this.isolated.has(peer); }
  weight(source: number): number { return [...(this.accusers.get(source) ?? [])].filter((a) => this.weighs(a)).length; }
  ask(source: number): void {
    if (!this.probing.has(source)) { this.probing.add(source); this.probes.push(source); }
  }
  consider(source: number): void {
    if (this.suspended.has(source) || this.global.has(source) || this.gone.has(source)) return;
    if (this.weight(source) < CFG.globalBlacklistThreshold) return;
    this.suspended.add(source);
    this.confirmed.delete(source);
    this.ask(source);
  }
  isolate(requester: number): void {
    const failed = this.failed.get(requester);
    if (!failed || this.isolated.has(requester)) return;
    const counted = [...failed].filter((s) => this.confirmed.has(s) && !this.global.has(s) && !this.gone.has(s));
    if (counted.length <= CFG.selfIsolationThreshold) return;
    this.isolated.add(requester);
    this.global.add(requester);
    this.failed.delete(requester);
  }
}

type Real = { book: Blacklists };

function check(model: Model, real: Real): void {
  assert.equal(real.book.takeProbes(), model.probes.splice(0), 'probes queued');
  for (let a = 0; a < PEERS; a++) {
    assert.is(real.book.isIsolated(a), model.isolated.has(a), `isolated(${a})`);
    assert.is(real.book.isGloballyBlacklisted(a), model.global.has(a), `global(${a})`);
    assert.is(real.book.isSuspended(a), model.suspended.has(a), `suspended(${a})`);
    assert.is(real.book.credibleAccusers(a), model.weight(a), `credibleAccusers(${a})`);
    for (let b = 0; b < PEERS; b++) {
      const allowed = !model.global.has(b) && !model.suspended.has(b) && !model.local.has(`${a}>${b}`);
      assert.is(real.book.allows(a, b), allowed, `allows(${a}, ${b})`);
    }
  }
}

class Failure implements fc.Command<Model, Real> {
  constructor(readonly requester: number, readonly source: number) {}
  check(): boolean { return true; }
  run(m: Model, real: Real): void {
    real.book.recordFailure(this.requester, this.source);
    const { requester: a, source: b } = this;
    if (a !== b) {
      m.local.add(`${a}>${b}`);
      if (!m.isolated.has(a)) {
        m.failed.set(a, new Set([...(m.failed.get(a) ?? []), b]));
        m.isolate(a);
      }
      if (!m.global.has(b) && !m.gone.has(b)) {
        if (!m.discredited.has(a)) {
          m.accusers.set(b, new Set([...(m.accusers.get(b) ?? []), a]));
          m.consider(b);
        }
        if (!m.confirmed.has(b)) m.ask(b);
      }
    }
    check(m, real);
  }
  toString(): string { return `fail(${this.requester} from ${this.source})`; }
}

class Success implements fc.Command<Model, Real> {
  constructor(readonly requester: number, readonly source: number) {}
  check(): boolean { return true; }
  run(m: Model, real: Real): void {
    real.book.recordSuccess(this.requester, this.source);
    m.failed.delete(this.requester);
    m.accusers.delete(this.source);
    if (!m.credible.has(this.requester)) {
      m.credible.add(this.requester);
      for (const [source, accusers] of m.accusers) if (accusers.has(this.requester)) m.consider(source);
    }
    check(m, real);
  }
  toString(): string { return `ok(${this.requester} from ${this.source})`; }
}

class Probe implements fc.Command<Model, Real> {
  constructor(readonly source: number, readonly outcome: 'failed' | 'served' | 'inconclusive') {}
  check(m: Readonly<Model>): boolean { return m.probing.has(this.source); }
  run(m: Model, real: Real): void {
    const b = this.source;
    m.probing.delete(b);
    if (this.outcome === 'failed') {
      real.book.probeFailed(b);
      m.suspended.delete(b);
      m.confirmed.delete(b);
      m.global.add(b);
      m.accusers.delete(b);
    } else if (this.outcome === 'served') {
      real.book.probeServed(b);
      m.confirmed.add(b);
      if (m.suspended.delete(b)) {
        for (const a of m.accusers.get(b) ?? []) m.discredited.add(a);
        m.accusers.delete(b);
      }
      for (const [r, failed] of m.failed) if (failed.has(b)) m.isolate(r);
    } else {
      real.book.probeInconclusive(b);
      m.suspended.delete(b);
    }
    check(m, real);
  }
  toString(): string { return `probe(${this.source}) ${this.outcome}`; }
}

class Gone implements fc.Command<Model, Real> {
  constructor(readonly peer: number) {}
  check(): boolean { return true; }
  run(m: Model, real: Real): void {
    real.book.markGone(this.peer);
    m.gone.add(this.peer);
    m.suspended.delete(this.peer);
    m.probing.delete(this.peer);
    check(m, real);
  }
  toString(): string { return `gone(${this.peer})`; }
}

test('blacklists, accusations, probes and self-isolation follow their rules (model-based)', () => {
  const peer = fc.integer({ min: 0, max: PEERS - 1 });
  const commands = fc.commands([
    fc.tuple(peer, peer).map(([a, b]) => new Failure(a, b)),
    fc.tuple(peer, peer).map(([a, b]) => new Failure(a, b)),
    fc.tuple(peer, peer).map(([a, b]) => new Success(a, b)),
    fc.tuple(peer, fc.constantFrom('failed', 'served', 'inconclusive') as fc.Arbitrary<'failed' | 'served' | 'inconclusive'>).map(([b, o]) => new Probe(b, o)),
    peer.map((p) => new Gone(p)),
  ], { maxCommands: 80 });
  checkProperty(import.meta.url, 'blacklist-model', fc.property(commands, (cmds) => {
    fc.modelRun(() => ({ model: new Model(), real: { book: new Blacklists(CFG) } }), cmds);
  }), { numRuns: 300 });
});

test('one reporter counts once, however often it reports; its first failure has the source checked, once', () => {
  const book = new Blacklists({ ...CFG, globalBlacklistThreshold: 2 });
  book.recordSuccess(0, 5);
  for (let i = 0; i < 50; i++) book.recordFailure(0, 1);
  assert.is(book.credibleAccusers(1), 1);
  assert.equal(book.takeProbes(), [1], 'one dispute: the supernode checks the source once');
  assert.not.ok(book.isSuspended(1), 'a dispute does not keep anyone from the source');
  assert.ok(book.allows(2, 1));
});

test('200 liars that never report a peer success: one check of the honest peer, no weight, no blacklist', () => {
  const book = new Blacklists({ globalBlacklistThreshold: 5, selfIsolationThreshold: 5, maxLocalBlacklist: 1024 });
  const HONEST = 0;
  for (let liar = 1; liar <= 100; liar++) book.recordFailure(liar, HONEST);
  assert.equal(book.takeProbes(), [HONEST]);
  book.probeServed(HONEST);
  for (let liar = 101; liar <= 200; liar++) book.recordFailure(liar, HONEST);
  assert.equal(book.takeProbes(), [], 'confirmed good: lies cost nothing more');
  assert.is(book.accusersOf(HONEST), 200);
  assert.is(book.credibleAccusers(HONEST), 0);
  assert.not.ok(book.isGloballyBlacklisted(HONEST));
  for (let liar = 1; liar <= 200; liar++) assert.not.ok(book.isIsolated(liar), 'failing from one good source does not isolate');
});

test('credible liars get the honest peer suspended and probed; the probe clears it and discredits them for good', () => {
  const book = new Blacklists({ globalBlacklistThreshold: 5, selfIsolationThreshold: 5, maxLocalBlacklist: 1024 });
  const HONEST = 0;
  const OTHER = 999;
  book.recordFailure(50, HONEST);
  assert.equal(book.takeProbes(), [HONEST]);
  book.probeServed(HONEST);
  for (let liar = 1; liar <= 5; liar++) book.recordSuccess(liar, OTHER);
  for (let liar = 1; liar <= 5; liar++) book.recordFailure(liar, HONEST);
  assert.equal(book.takeProbes(), [HONEST], 'accused by enough credible peers: checked again');
  assert.not.ok(book.allows(6, HONEST), 'suspended while the supernode checks it');
  book.probeServed(HONEST);
  assert.ok(book.allows(6, HONEST));
  for (let liar = 1; liar <= 5; liar++) book.recordFailure(liar, HONEST);
  assert.is(book.credibleAccusers(HONEST), 0, 'discredited liars weigh nothing');
  assert.equal(book.takeProbes(), []);
  assert.not.ok(book.isGloballyBlacklisted(HONEST));
});

test('a really corrupt peer: the first failure has it checked, the check fails, it is on the global blacklist', () => {
  const book = new Blacklists({ globalBlacklistThreshold: 3, selfIsolationThreshold: 5, maxLocalBlacklist: 1024 });
  const BAD = 0;
  book.recordFailure(1, BAD);
  assert.equal(book.takeProbes(), [BAD]);
  book.probeFailed(BAD);
  assert.ok(book.isGloballyBlacklisted(BAD));
  book.recordFailure(2, BAD);
  assert.equal(book.takeProbes(), [], 'a blacklisted peer needs no more checks');
});

test('a busy check proves nothing; credible accusers then suspend the peer and it is checked again', () => {
  const book = new Blacklists({ globalBlacklistThreshold: 2, selfIsolationThreshold: 5, maxLocalBlacklist: 1024 });
  book.recordSuccess(1, 9);
  book.recordFailure(1, 0);
  assert.equal(book.takeProbes(), [0]);
  book.probeInconclusive(0);
  book.recordFailure(2, 0);
  assert.equal(book.takeProbes(), [0], 'still unchecked: the next failure asks again');
  assert.not.ok(book.isSuspended(0), 'peer 2 has no record yet');
  book.recordSuccess(2, 8);
  assert.ok(book.isSuspended(0), 'its accusation counts once it has a record');
  book.probeFailed(0);
  assert.ok(book.isGloballyBlacklisted(0));
});

test('self-isolation counts only failures from sources the supernode found good', () => {
  const book = new Blacklists({ globalBlacklistThreshold: 100, selfIsolationThreshold: 2, maxLocalBlacklist: 1024 });
  for (const source of [1, 2, 3, 4, 5]) book.recordFailure(0, source);
  assert.equal(book.takeProbes(), [1, 2, 3, 4, 5]);
  book.probeFailed(1);
  book.markGone(2);
  book.probeServed(3);
  book.probeServed(4);
  assert.not.ok(book.isIsolated(0), 'two failures where the supernode was served do not exceed 2');
  book.probeServed(5);
  assert.ok(book.isIsolated(0), 'three do: the requester is the problem');
  assert.ok(book.isGloballyBlacklisted(0));
});

test('a success resets the counters but does not lift a blacklist; local blacklists are bounded', () => {
  const book = new Blacklists({ ...CFG, maxLocalBlacklist: 2, selfIsolationThreshold: 100, globalBlacklistThreshold: 100 });
  book.recordFailure(0, 1);
  book.recordFailure(0, 2);
  book.recordFailure(0, 3);
  assert.ok(book.allows(0, 1));
  assert.not.ok(book.allows(0, 2));
  assert.not.ok(book.allows(0, 3));
  book.recordSuccess(0, 3);
  assert.not.ok(book.allows(0, 3), 'a success does not lift a local blacklist');
});

test('what a failure says about its source: busy and a refused grant nothing, slow the requester\'s own list, the rest an accusation', () => {
  assert.equal((['busy', 'unauthorized', 'slow', 'timeout', 'refused', 'corrupt', 'unreachable', 'io', undefined] as const).map(blameFor),
    ['none', 'none', 'local', 'accuse', 'accuse', 'accuse', 'accuse', 'accuse', 'accuse']);
});

test.run();
