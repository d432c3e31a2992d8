/**
 * The supernode machine and its bounded cache and preheat: which tasks the CDN must keep
 * (`cacheNeeded`), what an eviction does to the task and its peers (`cdn-evicted`), and the
 * progress a preheated task reports (`preheat` → `preheat-update`), as exact effects.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { configOrThrow } from '../../core/config.ts';
import { applyAndDrain } from '../../core/drive.ts';
import type { PeerToSupernode, TaskSpec } from '../../core/protocol.ts';
import { Supernode } from '../../core/supernode.ts';
import type { SupernodeEffect, SupernodeInput } from '../../core/supernode-io.ts';
import { testRng } from '../helpers/swarm.ts';

const T = 'c'.repeat(64);
const SPEC: TaskSpec = { url: 'http://origin.test/layer', headers: {} };
/** 64 KiB: the smallest fixed piece a supernode accepts. */
const P = 64 * 1024;
const EVICTED = 'the supernode evicted this task from its cache to stay under its size limit; download it again';

function machine(overrides = {}) {
  const sn = new Supernode(configOrThrow({ pieceSizeBytes: P, ...overrides }), testRng(1));
  const feed = (nowMs: number, input: SupernodeInput): SupernodeEffect[] => {
    const out: SupernodeEffect[] = [];
    applyAndDrain(sn, nowMs, input, (e) => out.push(e));
    return out.filter((e) => e.kind !== 'log' && e.kind !== 'assigned');
  };
  const register = (nowMs: number, from: string, extra: Partial<Extract<PeerToSupernode, { kind: 'register' }>> = {}) =>
    feed(nowMs, { kind: 'peer-message', from, msg: { kind: 'register', taskId: T, task: SPEC, uploadAddr: `${from}:1`, have: [], blacklist: [], pattern: 'p2p', ...extra } });
  /** The CDN fetched the whole two-piece file. */
  const fetched = (nowMs: number) => {
    feed(nowMs, { kind: 'cdn-length', taskId: T, totalBytes: 2 * P });
    feed(nowMs, { kind: 'cdn-piece', taskId: T, piece: 0, digest: 'sha256:a' });
    feed(nowMs, { kind: 'cdn-piece', taskId: T, piece: 1, digest: 'sha256:b' });
    return feed(nowMs, { kind: 'cdn-done', taskId: T, totalBytes: 2 * P, fileDigest: 'sha256:f' });
  };
  return { sn, feed, register, fetched };
}

test('the cache is needed while fetching and while a peer downloads; complete seeders alone do not hold it', () => {
  const { sn, feed, register, fetched } = machine();
  assert.is(sn.cacheNeeded(T), false, 'an unknown task');
  register(0, 'p1');
  assert.is(sn.cacheNeeded(T), true, 'fetching');
  fetched(1);
  assert.is(sn.cacheNeeded(T), true, 'p1 has not got its pieces yet');
  feed(2, { kind: 'peer-message', from: 'p1', msg: { kind: 'report', taskId: T, results: [] } });
  register(3, 'seeder', { have: [0, 1] });
  assert.is(sn.cacheNeeded(T), true, 'revalidating for the seeder\'s registration');
  feed(4, { kind: 'cdn-validated', taskId: T, changed: false });
  assert.is(sn.cacheNeeded(T), true, 'p1 still downloading');
  feed(5, { kind: 'peer-gone', peerId: 'p1' });
  assert.is(sn.cacheNeeded(T), false, 'only a complete seeder is registered');
});

test('an evicted task is forgotten: its peers are told, no cdn-drop, and the next register fetches anew', () => {
  const { feed, register, fetched } = machine();
  register(0, 'p1');
  fetched(1);
  feed(2, { kind: 'peer-gone', peerId: 'p1' });
  register(3, 'seeder', { have: [0, 1] });
  feed(4, { kind: 'cdn-validated', taskId: T, changed: false });
  assert.equal(feed(5, { kind: 'cdn-evicted', taskId: T }), [
    { kind: 'send', to: 'seeder', msg: { kind: 'task-failed', taskId: T, reason: EVICTED } },
  ]);
  assert.equal(feed(6, { kind: 'cdn-evicted', taskId: T }), [], 'an unknown task: nothing to do');
  assert.equal(register(7, 'p2'), [
    { kind: 'cdn-fetch', taskId: T, task: SPEC, pieceSizeBytes: P },
    { kind: 'send', to: 'p2', msg: { kind: 'wait', taskId: T, retryAfterMs: 50, reason: 'supernode is fetching the source length' } },
  ]);
});

test('a preheat fetches a new task and reports its progress until it is ready', () => {
  const { sn, feed } = machine();
  assert.equal(feed(0, { kind: 'preheat', taskId: T, task: SPEC }), [
    { kind: 'cdn-fetch', taskId: T, task: SPEC, pieceSizeBytes: P },
    { kind: 'preheat-update', taskId: T, state: 'fetching', bytesDone: 0, totalBytes: null },
  ]);
  assert.is(sn.cacheNeeded(T), true, 'a preheat being fetched is kept');
  assert.equal(feed(1, { kind: 'cdn-length', taskId: T, totalBytes: 2 * P - 10 }), [
    { kind: 'preheat-update', taskId: T, state: 'fetching', bytesDone: 0, totalBytes: 2 * P - 10 },
  ]);
  assert.equal(feed(2, { kind: 'cdn-piece', taskId: T, piece: 1, digest: 'sha256:b' }), [
    { kind: 'preheat-update', taskId: T, state: 'fetching', bytesDone: P - 10, totalBytes: 2 * P - 10 },
  ]);
  feed(3, { kind: 'cdn-piece', taskId: T, piece: 0, digest: 'sha256:a' });
  assert.equal(feed(4, { kind: 'cdn-done', taskId: T, totalBytes: 2 * P - 10, fileDigest: 'sha256:f' }), [
    { kind: 'preheat-update', taskId: T, state: 'ready', bytesDone: 2 * P - 10, totalBytes: 2 * P - 10 },
  ]);
  assert.is(sn.cacheNeeded(T), false, 'a ready preheat with nobody on it may be evicted');
  assert.equal(feed(5, { kind: 'cdn-piece', taskId: T, piece: 0, digest: 'sha256:a' }), [], 'the watch ended at ready');
});

test('a preheat of a cached task revalidates it; unchanged is ready, changed fetches anew', () => {
  const { feed, register, fetched } = machine();
  register(0, 'p1');
  fetched(1);
  assert.equal(feed(2, { kind: 'preheat', taskId: T, task: SPEC }), [
    { kind: 'cdn-revalidate', taskId: T, task: SPEC },
    { kind: 'preheat-update', taskId: T, state: 'fetching', bytesDone: 2 * P, totalBytes: 2 * P },
  ]);
  assert.equal(feed(3, { kind: 'cdn-validated', taskId: T, changed: false }), [
    { kind: 'preheat-update', taskId: T, state: 'ready', bytesDone: 2 * P, totalBytes: 2 * P },
  ]);
  feed(4, { kind: 'preheat', taskId: T, task: SPEC });
  const changed = feed(5, { kind: 'cdn-validated', taskId: T, changed: true });
  assert.equal(changed.filter((e) => e.kind !== 'send'), [
    { kind: 'cdn-drop', taskId: T },
    { kind: 'preheat-update', taskId: T, state: 'fetching', bytesDone: 0, totalBytes: null },
    { kind: 'cdn-fetch', taskId: T, task: SPEC, pieceSizeBytes: P },
  ]);
});

test('a preheat whose source fails reports the failure; at the task limit it is refused, and never dropped as idle', () => {
  const { feed } = machine({ maxTasks: 1 });
  feed(0, { kind: 'preheat', taskId: T, task: SPEC });
  const other = 'd'.repeat(64);
  assert.equal(feed(1, { kind: 'preheat', taskId: other, task: { url: 'http://origin.test/other', headers: {} } }), [
    { kind: 'preheat-update', taskId: other, state: 'failed', bytesDone: 0, totalBytes: null, reason: 'supernode is at its limit of 1 tasks; try later' },
  ]);
  assert.equal(feed(2, { kind: 'cdn-failed', taskId: T, reason: 'source answered 404 Not Found', status: 404 }), [
    { kind: 'preheat-update', taskId: T, state: 'failed', bytesDone: 0, totalBytes: null, reason: 'source answered 404 Not Found' },
    { kind: 'cdn-drop', taskId: T },
  ]);
});

test('a private preheat makes every later requester prove its credentials', () => {
  const { feed, register } = machine();
  const priv: TaskSpec = { url: SPEC.url, headers: { Authorization: 'Basic dTpw' } };
  feed(0, { kind: 'preheat', taskId: T, task: priv });
  feed(1, { kind: 'cdn-length', taskId: T, totalBytes: P });
  assert.equal(register(2, 'p1')[0], { kind: 'check-auth', taskId: T, peerId: 'p1', task: SPEC });
});

test.run();
