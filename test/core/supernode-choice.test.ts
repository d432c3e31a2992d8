import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { checkProperty } from '../helpers/fc-rerun.ts';
import { commonLocationDepth, loadClass, rankSupernodes, type SupernodeCandidate } from '../../core/supernode-choice.ts';

const sn = (address: string, idc: string, location = '', load: number | null = null): SupernodeCandidate => ({ address, idc, location, load });
const order = (list: SupernodeCandidate[]) => list.map((c) => c.address);

test('the same IDC comes first, whatever the location or load', () => {
  const candidates = [sn('a:1', 'idc-a', 'cn|hz|r1', 0), sn('b:1', 'idc-b', 'us', 500)];
  assert.equal(order(rankSupernodes(candidates, { idc: 'idc-b', location: 'cn|hz|r1' }, 0)), ['b:1', 'a:1']);
  assert.equal(order(rankSupernodes(candidates, { idc: 'idc-a', location: '' }, 0)), ['a:1', 'b:1']);
});

test('then the longest common location prefix, level by level', () => {
  const candidates = [sn('country:1', 'x', 'cn|sh'), sn('rack:1', 'x', 'cn|hz|r7'), sn('city:1', 'x', 'cn|hz|r2'), sn('none:1', 'x', 'us|ny')];
  assert.equal(order(rankSupernodes(candidates, { idc: 'x', location: 'cn|hz|r7' }, 0)), ['rack:1', 'city:1', 'country:1', 'none:1']);
  assert.is(commonLocationDepth('cn|hz|r7', 'cn|hz'), 2);
  assert.is(commonLocationDepth('cn|hz', 'cn|hzz'), 1, 'levels compare whole, not by characters');
  assert.is(commonLocationDepth('', 'cn'), 0);
});

test('a host that declares no IDC matches no IDC: location and load decide', () => {
  const candidates = [sn('a:1', '', '', 9), sn('b:1', 'idc-b', '', 1)];
  assert.equal(order(rankSupernodes(candidates, { idc: '', location: '' }, 0)), ['b:1', 'a:1']);
});

test('then lighter load, in powers of two; unreported load counts as idle', () => {
  assert.equal([0, 1, 2, 3, 4, 7, 8, null].map(loadClass), [0, 1, 2, 2, 3, 3, 4, 0]);
  const candidates = [sn('busy:1', 'x', '', 40), sn('light:1', 'x', '', 5)];
  assert.equal(order(rankSupernodes(candidates, { idc: 'x', location: '' }, 0)), ['light:1', 'busy:1']);
});

test('equals take turns: the turn rotates each group of equally suitable supernodes', () => {
  const candidates = [sn('c:1', 'x', '', 2), sn('a:1', 'x', '', 3), sn('b:1', 'x', '', 2), sn('far:1', 'y', '', 0)];
  const firsts = [0, 1, 2, 3].map((turn) => rankSupernodes(candidates, { idc: 'x', location: '' }, turn)[0].address);
  assert.equal(firsts, ['a:1', 'b:1', 'c:1', 'a:1']);
  assert.equal(order(rankSupernodes(candidates, { idc: 'x', location: '' }, 1)), ['b:1', 'c:1', 'a:1', 'far:1']);
});

const candidatesArb = fc.uniqueArray(
  fc.record({
    address: fc.stringMatching(/^[a-d]{1,3}:[1-9]$/),
    idc: fc.constantFrom('', 'a', 'b'),
    location: fc.constantFrom('', 'cn', 'cn|hz', 'cn|hz|r1', 'cn|sh', 'us'),
    load: fc.option(fc.integer({ min: 0, max: 100 })),
  }),
  { selector: (c) => c.address, maxLength: 12 },
);
const requesterArb = fc.record({ idc: fc.constantFrom('', 'a', 'b'), location: fc.constantFrom('', 'cn', 'cn|hz|r1', 'us') });

test('property: a permutation, IDC matches before others, depth never rises within an IDC class', () => {
  checkProperty(import.meta.url, 'choice-order', fc.property(candidatesArb, requesterArb, fc.nat(), (candidates, requester, turn) => {
    const ranked = rankSupernodes(candidates, requester, turn);
    assert.equal([...order(ranked)].sort(), [...order(candidates)].sort(), 'every candidate once');
    for (let i = 1; i < ranked.length; i++) {
      const [prev, next] = [ranked[i - 1], ranked[i]];
      const prevSame = requester.idc !== '' && prev.idc === requester.idc;
      const nextSame = requester.idc !== '' && next.idc === requester.idc;
      assert.ok(prevSame || !nextSame, `${next.address} in the requester's IDC after ${prev.address}`);
      if (prevSame === nextSame) {
        assert.ok(commonLocationDepth(prev.location, requester.location) >= commonLocationDepth(next.location, requester.location));
      }
    }
  }));
});

test('property: deterministic, and independent of the order candidates are listed in', () => {
  checkProperty(import.meta.url, 'choice-deterministic', fc.property(candidatesArb, requesterArb, fc.nat(), (candidates, requester, turn) => {
    const reversed = [...candidates].reverse();
    assert.equal(order(rankSupernodes(reversed, requester, turn)), order(rankSupernodes(candidates, requester, turn)));
  }));
});

test('property: over as many turns as candidates, each of the best group is assigned equally often', () => {
  checkProperty(import.meta.url, 'choice-round-robin', fc.property(candidatesArb, requesterArb, (candidates, requester) => {
    if (candidates.length === 0) return;
    const best = rankSupernodes(candidates, requester, 0)[0];
    const suitability = (c: SupernodeCandidate) =>
      `${requester.idc !== '' && c.idc === requester.idc}/${commonLocationDepth(c.location, requester.location)}/${loadClass(c.load)}`;
    const group = candidates.filter((c) => suitability(c) === suitability(best));
    const counts = new Map<string, number>();
    for (let turn = 0; turn < group.length; turn++) {
      const first = rankSupernodes(candidates, requester, turn)[0].address;
      counts.set(first, (counts.get(first) ?? 0) + 1);
    }
    assert.equal([...counts.keys()].sort(), group.map((c) => c.address).sort());
  }));
});

test.run();
