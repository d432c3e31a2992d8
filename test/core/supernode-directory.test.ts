import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { checkProperty } from '../helpers/fc-rerun.ts';
import { SupernodeDirectory } from '../../core/supernode-directory.ts';
import type { AnnounceMsg } from '../../core/manager-api.ts';

const announce = (address: string, idc: string, location = '', load: number | null = null): AnnounceMsg => ({ address, idc, location, load });

test('a client in IDC b is assigned the IDC-b supernode and given the whole list', () => {
  const dir = new SupernodeDirectory({ ttlMs: 30_000, maxSupernodes: 10 });
  assert.is(dir.announce(0, announce('10.0.0.1:8002', 'a', 'cn|hz')), 'added');
  assert.is(dir.announce(0, announce('10.0.1.1:8002', 'b', 'cn|sh')), 'added');
  const answer = dir.choose(1, { idc: 'b', location: '' });
  assert.equal(answer, {
    assigned: '10.0.1.1:8002',
    supernodes: [{ address: '10.0.1.1:8002', idc: 'b', location: 'cn|sh' }, { address: '10.0.0.1:8002', idc: 'a', location: 'cn|hz' }],
  });
});

test('heartbeats renew the lease; a supernode that stops is dropped when it runs out', () => {
  const dir = new SupernodeDirectory({ ttlMs: 30_000, maxSupernodes: 10 });
  dir.announce(0, announce('a:1', 'a'));
  dir.announce(0, announce('b:1', 'b'));
  assert.is(dir.nextDeadlineMs(), 30_000);
  assert.is(dir.announce(20_000, announce('a:1', 'a', '', 3)), 'renewed');
  assert.is(dir.nextDeadlineMs(), 30_000, 'b is due first');
  assert.equal(dir.expire(29_999), []);
  assert.equal(dir.expire(30_000), ['b:1']);
  assert.is(dir.nextDeadlineMs(), 50_000);
  assert.equal(dir.choose(30_001, { idc: 'b', location: '' }).supernodes.map((s) => s.address), ['a:1']);
  assert.equal(dir.choose(50_000, { idc: '', location: '' }), { assigned: null, supernodes: [] }, 'a query drops expired ones too');
  assert.is(dir.nextDeadlineMs(), null);
  assert.is(dir.counters.expired, 2);
});

test('every drop is kept for the driver to log, whichever call made it (a heartbeat from another, a query, the timer)', () => {
  const dir = new SupernodeDirectory({ ttlMs: 1000, maxSupernodes: 10 });
  dir.announce(0, announce('a:1', 'a'));
  dir.announce(0, announce('b:1', 'b'));
  dir.announce(500, announce('c:1', 'c'));
  assert.equal(dir.takeDropped(), []);
  // b's heartbeat comes in just after a's and its own lease ended, before any timer fires.
  assert.is(dir.announce(1000, announce('b:1', 'b')), 'added', 'b is back as new: its lease had ended');
  assert.equal(dir.takeDropped().sort(), ['a:1', 'b:1']);
  assert.equal(dir.takeDropped(), [], 'taken once');
  dir.choose(1500, { idc: '', location: '' });
  assert.equal(dir.takeDropped(), ['c:1'], 'a query drops c');
  assert.equal(dir.expire(2000), ['b:1']);
  assert.equal(dir.takeDropped(), ['b:1'], 'the timer\'s expiry too');
  assert.is(dir.counters.expired, 4);
});

test('drops not taken are bounded: the latest maxSupernodes are kept', () => {
  const dir = new SupernodeDirectory({ ttlMs: 1000, maxSupernodes: 2 });
  for (let i = 0; i < 5; i++) dir.announce(2000 * i, announce(`s${i}:1`, 'a'));
  dir.expire(20_000);
  assert.is(dir.counters.expired, 5);
  assert.equal(dir.takeDropped(), ['s3:1', 's4:1']);
});

test('a renewal updates place and load but keeps the first announcement time', () => {
  const dir = new SupernodeDirectory({ ttlMs: 1000, maxSupernodes: 10 });
  dir.announce(5, announce('a:1', 'a', 'x'));
  dir.announce(600, announce('a:1', 'b', 'y', 7));
  assert.equal(dir.entries(), [{ address: 'a:1', idc: 'b', location: 'y', load: 7, announcedAtMs: 5, expiresAtMs: 1600 }]);
});

test('withdraw removes at once; the table refuses new addresses when full but renews known ones', () => {
  const dir = new SupernodeDirectory({ ttlMs: 1000, maxSupernodes: 2 });
  dir.announce(0, announce('a:1', 'a'));
  dir.announce(0, announce('b:1', 'a'));
  assert.is(dir.announce(1, announce('c:1', 'a')), 'full');
  assert.is(dir.announce(1, announce('a:1', 'a')), 'renewed');
  assert.ok(dir.withdraw(2, 'b:1'));
  assert.not.ok(dir.withdraw(2, 'b:1'));
  assert.is(dir.announce(3, announce('c:1', 'a')), 'added');
  assert.is(dir.size, 2);
});

test('equally suitable supernodes take turns being assigned', () => {
  const dir = new SupernodeDirectory({ ttlMs: 1000, maxSupernodes: 10 });
  for (const address of ['a:1', 'b:1', 'c:1']) dir.announce(0, announce(address, 'x'));
  const assigned = [1, 2, 3, 4, 5, 6].map((t) => dir.choose(t, { idc: 'x', location: '' }).assigned);
  assert.equal(assigned, ['a:1', 'b:1', 'c:1', 'a:1', 'b:1', 'c:1']);
});

test('time going back is a driver bug and throws', () => {
  const dir = new SupernodeDirectory({ ttlMs: 1000, maxSupernodes: 10 });
  dir.announce(10, announce('a:1', 'x'));
  assert.throws(() => dir.choose(5, { idc: '', location: '' }), /time went back/);
});

test('property: model — live = announced within the TTL, never more than the limit', () => {
  const op = fc.oneof(
    fc.record({ kind: fc.constant('announce' as const), address: fc.constantFrom('a:1', 'b:1', 'c:1', 'd:1'), dtMs: fc.nat(600) }),
    fc.record({ kind: fc.constant('withdraw' as const), address: fc.constantFrom('a:1', 'b:1', 'c:1', 'd:1'), dtMs: fc.nat(600) }),
    fc.record({ kind: fc.constant('choose' as const), address: fc.constant(''), dtMs: fc.nat(600) }),
  );
  checkProperty(import.meta.url, 'directory-model', fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
    const ttlMs = 1000;
    const dir = new SupernodeDirectory({ ttlMs, maxSupernodes: 3 });
    const model = new Map<string, number>(); // address -> lease end
    let nowMs = 0;
    for (const { kind, address, dtMs } of ops) {
      nowMs += dtMs;
      for (const [a, end] of model) if (end <= nowMs) model.delete(a);
      if (kind === 'announce') {
        const known = model.has(address);
        const expected = known ? 'renewed' : model.size < 3 ? 'added' : 'full';
        if (expected !== 'full') model.set(address, nowMs + ttlMs);
        assert.is(dir.announce(nowMs, announce(address, 'x')), expected);
      } else if (kind === 'withdraw') {
        assert.is(dir.withdraw(nowMs, address), model.delete(address));
      } else {
        const live = dir.choose(nowMs, { idc: 'x', location: '' }).supernodes.map((s) => s.address).sort();
        assert.equal(live, [...model.keys()].sort());
      }
      assert.ok(dir.size <= 3);
    }
  }));
});

test.run();
