import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { checkProperty } from '../helpers/fc-rerun.ts';
import {
  addressProblem, decodeAnnounce, decodeAnnounceReply, decodeChooseAnswer, decodeChooseQuery, locationProblem,
} from '../../core/manager-api.ts';

const errorOf = (result: { ok: boolean; error?: { path: string; message: string } }) => (result.ok ? null : `${result.error!.path}: ${result.error!.message}`);

test('an announcement decodes to exactly its fields; optional ones default', () => {
  assert.equal(decodeAnnounce('{"address":"10.0.0.1:8002","idc":"b","location":"cn|hz|r7","load":3,"extra":{"x":1}}'),
    { ok: true, msg: { address: '10.0.0.1:8002', idc: 'b', location: 'cn|hz|r7', load: 3 } });
  assert.equal(decodeAnnounce('{"address":"sn-1.example:8002"}'),
    { ok: true, msg: { address: 'sn-1.example:8002', idc: '', location: '', load: null } });
  assert.equal(decodeAnnounce('{"address":"[::1]:8002","load":null}'),
    { ok: true, msg: { address: '[::1]:8002', idc: '', location: '', load: null } });
});

test('a lying or broken announcement gets an error naming the field and what to send', () => {
  const cases: [string, RegExp][] = [
    ['not json', /^\$: not valid JSON/],
    ['[]', /^\$: expected an object/],
    ['{}', /^\$\.address: missing/],
    ['{"address":"10.0.0.1"}', /address: "10\.0\.0\.1" is not host:port/],
    ['{"address":"10.0.0.1:0"}', /is not host:port/],
    ['{"address":"10.0.0.1:70000"}', /is not host:port/],
    ['{"address":"0.0.0.0:8002"}', /not an address peers can dial/],
    ['{"address":"a b:8002"}', /is not host:port/],
    ['{"address":"a:1","idc":"east coast"}', /\$\.idc: idc "east coast" may hold only letters/],
    ['{"address":"a:1","idc":7}', /\$\.idc: expected a string/],
    ['{"address":"a:1","location":"cn||hz"}', /\$\.location: location "cn\|\|hz" must be levels/],
    ['{"address":"a:1","load":-1}', /\$\.load: expected a whole number from 0/],
    ['{"address":"a:1","load":1.5}', /\$\.load: expected a whole number/],
    [`{"address":"${'a'.repeat(300)}:1"}`, /\$\.address: 302 characters; at most 261/],
    [`{"address":"a:1","location":"${Array(20).fill('x').join('|')}"}`, /20 levels; at most 16/],
    [`${'['.repeat(100)}${']'.repeat(100)}`, /nested deeper/],
  ];
  for (const [text, expected] of cases) assert.match(errorOf(decodeAnnounce(text)) ?? 'decoded', expected, text.slice(0, 60));
});

test('a query takes absent parameters as undeclared and refuses malformed ones', () => {
  assert.equal(decodeChooseQuery(null, null), { ok: true, msg: { idc: '', location: '' } });
  assert.equal(decodeChooseQuery('b', 'cn|hz'), { ok: true, msg: { idc: 'b', location: 'cn|hz' } });
  assert.match(errorOf(decodeChooseQuery('b/../c', null)) ?? '', /^\$\.idc: idc "b\/\.\.\/c" may hold only/);
  assert.match(errorOf(decodeChooseQuery(null, '|')) ?? '', /^\$\.location:/);
  assert.is(locationProblem(''), null);
  assert.is(addressProblem('supernode.internal:8002'), null);
});

test('answers from a manager are checked too: the assigned one must lead a list of dialable addresses', () => {
  const good = { assigned: 'b:1', supernodes: [{ address: 'b:1', idc: 'b', location: '' }, { address: 'a:1', idc: 'a', location: '' }] };
  assert.equal(decodeChooseAnswer(JSON.stringify(good)), { ok: true, msg: good });
  assert.equal(decodeChooseAnswer('{"assigned":null,"supernodes":[]}'), { ok: true, msg: { assigned: null, supernodes: [] } });
  assert.match(errorOf(decodeChooseAnswer(JSON.stringify({ ...good, assigned: 'a:1' }))) ?? '', /must come first/);
  assert.match(errorOf(decodeChooseAnswer('{"assigned":null,"supernodes":[{"address":"nope"}]}')) ?? '', /supernodes\[0\]\.address/);
  assert.match(errorOf(decodeChooseAnswer(JSON.stringify({ assigned: null, supernodes: Array(1025).fill({ address: 'a:1' }) }))) ?? '', /1025 entries/);
  assert.equal(decodeAnnounceReply('{"ttlMs":30000,"heartbeatIntervalMs":10000}'), { ok: true, msg: { ttlMs: 30000, heartbeatIntervalMs: 10000 } });
  assert.match(errorOf(decodeAnnounceReply('{"ttlMs":0,"heartbeatIntervalMs":1}')) ?? '', /ttlMs/);
});

test('a __proto__ key is data, never a prototype', () => {
  const decoded = decodeAnnounce('{"address":"a:1","__proto__":{"load":5}}');
  assert.equal(decoded, { ok: true, msg: { address: 'a:1', idc: '', location: '', load: null } });
});

test('property: the decoders never throw on any text, and what they accept re-encodes to itself', () => {
  const jsonish = fc.oneof(fc.string(), fc.json(), fc.jsonValue().map((v) => JSON.stringify(v)),
    fc.record({ address: fc.oneof(fc.string(), fc.constant('a:1')), idc: fc.string(), location: fc.string(), load: fc.anything() }).map((v) => JSON.stringify(v)));
  checkProperty(import.meta.url, 'manager-api-fuzz', fc.property(jsonish, (text) => {
    for (const decode of [decodeAnnounce, decodeAnnounceReply, decodeChooseAnswer]) {
      const result = decode(text);
      if (result.ok) assert.equal(decode(JSON.stringify(result.msg)), result);
    }
  }), { numRuns: 3000 });
});

test.run();
