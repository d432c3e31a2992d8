import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { checkProperty } from '../helpers/fc-rerun.ts';
import {
  DECODE_LIMITS, decodeDataPlane, decodeJson, decodePeerToSupernode, decodeSupernodeToPeer, parseJsonSafe,
  type Decoded,
} from '../../core/decode.ts';
import { MAX_HAVE_RANGES, type PieceRange } from '../../core/piece-ranges.ts';
import type { DataPlaneMsg, PeerToSupernode, SupernodeToPeer } from '../../core/protocol.ts';
import { DEFAULT_PEER_SETTINGS } from '../../core/settings.ts';

const plain = { noNullPrototype: true } as const;
const idArb = fc.string({ minLength: 1, maxLength: 40 });
const pieceArb = fc.nat({ max: DECODE_LIMITS.pieceIndexLimit - 1 });
const digestArb = fc.stringMatching(/^sha256:[0-9a-f]{64}$/);
const failureArb = fc.constantFrom('timeout', 'refused', 'busy', 'corrupt', 'unreachable', 'io', 'unauthorized', 'slow' as const);
const grantArb = fc.record({
  taskId: idArb, peer: idArb, expiresAtMs: fc.maxSafeNat(), signature: fc.base64String({ maxLength: 88 }),
}, plain);
const headersArb = fc.dictionary(
  fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,20}$/),
  fc.string({ maxLength: 60 }).filter((v) => !/[\r\n\0]/.test(v)),
  { maxKeys: 8, ...plain },
);
const taskSpecArb = fc.record({
  url: fc.webUrl({ withQueryParameters: true }),
  headers: headersArb,
  digest: digestArb,
  identifier: idArb,
}, { requiredKeys: ['url', 'headers'], ...plain });
const resultArb = fc.record({ piece: pieceArb, source: idArb, ok: fc.boolean(), failure: failureArb }, { requiredKeys: ['piece', 'source', 'ok'], ...plain });

/** Ascending, disjoint [first, end) ranges, built from (gap, length) steps. */
const rangesArb: fc.Arbitrary<PieceRange[]> = fc.array(fc.tuple(fc.nat(1000), fc.integer({ min: 1, max: 1000 })), { maxLength: 20 })
  .map((steps) => {
    let at = 0;
    return steps.map(([gap, length]): PieceRange => {
      const first = at + gap;
      at = first + length;
      return [first, at];
    });
  });

const peerToSupernodeArb: fc.Arbitrary<PeerToSupernode> = fc.oneof(
  fc.record({
    kind: fc.constant('register' as const), taskId: idArb, task: taskSpecArb, uploadAddr: fc.string({ maxLength: 30 }),
    have: rangesArb, blacklist: fc.array(idArb, { maxLength: 5 }), pattern: fc.constantFrom('p2p', 'cdn' as const),
    idc: idArb, location: fc.array(fc.string({ maxLength: 12 }).filter((part) => !part.includes('|')), { minLength: 1, maxLength: 16 }).map((parts) => parts.join('|')).filter((l) => l !== ''),
  }, { requiredKeys: ['kind', 'taskId', 'task', 'uploadAddr', 'have', 'blacklist', 'pattern'], ...plain }),
  fc.record({ kind: fc.constantFrom('pull', 'report' as const), taskId: idArb, results: fc.array(resultArb, { maxLength: 10 }) }, plain),
  fc.record({ kind: fc.constant('leave' as const), taskId: idArb }, plain),
);

const taskInfoArb = fc.record({
  totalBytes: fc.nat({ max: 2 ** 40 }), pieceSizeBytes: fc.integer({ min: 4 * 1024 * 1024, max: 15 * 1024 * 1024 }),
}).map(({ totalBytes, pieceSizeBytes }) => ({ totalBytes, pieceSizeBytes, pieceCount: Math.ceil(totalBytes / pieceSizeBytes) }));
const supernodeToPeerArb: fc.Arbitrary<SupernodeToPeer> = fc.oneof(
  fc.tuple(idArb, taskInfoArb, fc.option(digestArb, { nil: undefined }), fc.option(grantArb, { nil: undefined }),
    fc.option(fc.base64String({ minLength: 4, maxLength: 60 }), { nil: undefined })).map(([taskId, info, fileDigest, grant, supernodeKey]) => ({
    kind: 'task-info' as const, taskId, ...info, ...(fileDigest !== undefined && { fileDigest }), ...(grant !== undefined && { grant }),
    ...(supernodeKey !== undefined && { supernodeKey }),
  })),
  fc.record({
    kind: fc.constant('assign' as const), taskId: idArb,
    pieces: fc.array(fc.record({ piece: pieceArb, source: idArb, sourceAddr: fc.string({ maxLength: 30 }), digest: digestArb }, plain), { maxLength: 5 }),
    retryAfterMs: fc.nat({ max: DECODE_LIMITS.retryAfterMs }),
    grant: grantArb,
  }, { requiredKeys: ['kind', 'taskId', 'pieces', 'retryAfterMs'], ...plain }),
  fc.record({ kind: fc.constant('wait' as const), taskId: idArb, retryAfterMs: fc.double({ min: 0, max: 60_000, noNaN: true, noDefaultInfinity: true }), reason: fc.string() }, plain),
  fc.record({ kind: fc.constant('task-failed' as const), taskId: idArb, reason: fc.string(), status: fc.integer({ min: 100, max: 599 }) }, { requiredKeys: ['kind', 'taskId', 'reason'], ...plain }),
);

const dataPlaneArb: fc.Arbitrary<DataPlaneMsg> = fc.oneof(
  fc.record({ kind: fc.constant('piece-request' as const), requestId: fc.maxSafeNat(), taskId: idArb, piece: pieceArb, grant: grantArb },
    { requiredKeys: ['kind', 'requestId', 'taskId', 'piece'], ...plain }),
  fc.record({ kind: fc.constant('piece-data' as const), requestId: fc.maxSafeNat(), taskId: idArb, piece: pieceArb, sizeBytes: fc.nat({ max: 16 * 1024 * 1024 }) }, plain),
  fc.record({ kind: fc.constant('piece-refused' as const), requestId: fc.maxSafeNat(), reason: fc.constantFrom('busy', 'missing', 'unauthorized' as const) }, plain),
);

type Decoder = (value: unknown) => Decoded<unknown>;
const families: [string, fc.Arbitrary<unknown>, Decoder][] = [
  ['peer-to-supernode', peerToSupernodeArb, decodePeerToSupernode],
  ['supernode-to-peer', supernodeToPeerArb, decodeSupernodeToPeer],
  ['data-plane', dataPlaneArb, decodeDataPlane],
];

function assertTyped(result: Decoded<unknown>, decode: Decoder): void {
  if (result.ok) {
    // Anything accepted is a fixed point: it re-encodes to something that decodes to itself.
    assert.equal(decodeJson(JSON.stringify(result.msg), decode), result);
    return;
  }
  assert.is(result.error.kind, 'decode-error');
  assert.type(result.error.path, 'string');
  assert.ok(result.error.path.startsWith('$'), result.error.path);
  assert.type(result.error.message, 'string');
  assert.ok(result.error.message.length > 0);
}

for (const [name, arb, decode] of families) {
  test(`${name}: every message round-trips through JSON`, () => {
    checkProperty(import.meta.url, `${name} round-trip`, fc.property(arb, (msg) => {
      const decoded = decodeJson(JSON.stringify(msg), decode);
      assert.ok(decoded.ok, JSON.stringify(decoded));
      assert.equal(decoded.msg, msg);
    }), { numRuns: 500 });
  });
}

test('every message kind is covered by the round-trip generators', () => {
  const kinds = new Set<string>();
  for (const [, arb] of families) for (const msg of fc.sample(arb, { numRuns: 300, seed: 7 })) kinds.add((msg as { kind: string }).kind);
  assert.equal([...kinds].sort(), ['assign', 'leave', 'piece-data', 'piece-refused', 'piece-request', 'pull', 'register', 'report',
    'task-failed', 'task-info', 'wait']);
});

test('errors name the path of the first bad field', () => {
  const register = {
    kind: 'register', taskId: 't', uploadAddr: '127.0.0.1:1', have: [[0, 1]], blacklist: [], pattern: 'p2p',
    task: { url: 'http://o/f', headers: { Authorization: 'Basic x' } },
  };
  const cases: [unknown, Decoder, string, RegExp][] = [
    [{ ...register, have: [[0, -1]] }, decodePeerToSupernode, '$.have[0][1]', /whole number from 1 to 16777216, got -1/],
    [{ ...register, have: [[1.5, 2]] }, decodePeerToSupernode, '$.have[0][0]', /got 1.5/],
    [{ ...register, have: [[2 ** 24, 2 ** 24 + 1]] }, decodePeerToSupernode, '$.have[0][0]', /16777215/],
    [{ ...register, have: [[0, 2], [1, 3]] }, decodePeerToSupernode, '$.have[1][0]', /from 2 to/],
    [{ ...register, have: [[5, 5]] }, decodePeerToSupernode, '$.have[0][1]', /from 6 to/],
    [{ ...register, have: [0, 1] }, decodePeerToSupernode, '$.have[0]', /expected a \[first, end\] pair, got 0/],
    [{ ...register, havePlan: { totalBytes: -1, pieceSizeBytes: 4 } }, decodePeerToSupernode, '$.havePlan.totalBytes', /got -1/],
    [{ ...register, havePlan: { totalBytes: 8 } }, decodePeerToSupernode, '$.havePlan.pieceSizeBytes', /missing/],
    [{ ...register, task: { url: '', headers: {} } }, decodePeerToSupernode, '$.task.url', /1..8192 characters, got 0/],
    [{ ...register, task: { url: 'x'.repeat(8193), headers: {} } }, decodePeerToSupernode, '$.task.url', /8192/],
    [{ ...register, task: { url: 'http://o', headers: { 'X-A': 'a\r\nInjected: 1' } } }, decodePeerToSupernode, '$.task.headers["X-A"]', /CR, LF/],
    [{ ...register, task: { url: 'http://o', headers: { 'bad name': 'v' } } }, decodePeerToSupernode, '$.task.headers["bad name"]', /header name/],
    [{ ...register, task: { url: 'http://o', headers: { A: 1 } } }, decodePeerToSupernode, '$.task.headers["A"]', /expected a string, got 1/],
    [{ ...register, task: { url: 'http://o', headers: {}, digest: 'md5:00' } }, decodePeerToSupernode, '$.task.digest', /sha256/],
    [{ ...register, pattern: 'source' }, decodePeerToSupernode, '$.pattern', /one of p2p, cdn, got "source"/],
    [{ kind: 'pull', taskId: 't', results: [{ piece: 0, source: 'a', ok: 'yes' }] }, decodePeerToSupernode, '$.results[0].ok', /true or false/],
    [{ kind: 'pull', taskId: 't', results: [{ piece: 0, source: 'a', ok: false, failure: 'meh' }] }, decodePeerToSupernode, '$.results[0].failure', /timeout/],
    [{ kind: 'pull', taskId: 't' }, decodePeerToSupernode, '$.results', /missing/],
    [{ kind: 'hello', taskId: 't' }, decodePeerToSupernode, '$.kind', /one of register, pull, report, leave/],
    [[], decodePeerToSupernode, '$', /expected an object, got an array/],
    [{ kind: 'leave', taskId: 'x'.repeat(257) }, decodePeerToSupernode, '$.taskId', /256/],
    [{ kind: 'task-info', taskId: 't', totalBytes: 10, pieceSizeBytes: 4, pieceCount: 2 }, decodeSupernodeToPeer, '$.pieceCount', /do not cut 10 bytes/],
    [{ kind: 'task-info', taskId: 't', totalBytes: 1e400, pieceSizeBytes: 4, pieceCount: 2 }, decodeSupernodeToPeer, '$.totalBytes', /Infinity/],
    [{ kind: 'task-info', taskId: 't', totalBytes: 8, pieceSizeBytes: 4, pieceCount: 2, settings: { ...DEFAULT_PEER_SETTINGS, peerDownLimit: 1e9 } },
      decodeSupernodeToPeer, '$.settings.peerDownLimit', /from 1 to 256/],
    [{ kind: 'task-info', taskId: 't', totalBytes: 8, pieceSizeBytes: 4, pieceCount: 2, settings: { ...DEFAULT_PEER_SETTINGS, pullTimeoutMs: undefined } },
      decodeSupernodeToPeer, '$.settings.pullTimeoutMs', /got undefined/],
    [{ kind: 'task-info', taskId: 't', totalBytes: 8, pieceSizeBytes: 4, pieceCount: 2, settings: { ...DEFAULT_PEER_SETTINGS, waitMinMs: 10, waitMaxMs: 5 } },
      decodeSupernodeToPeer, '$.settings.waitMaxMs', /waitMinMs/],
    [{ kind: 'wait', taskId: 't', retryAfterMs: Number.NaN, reason: '' }, decodeSupernodeToPeer, '$.retryAfterMs', /NaN/],
    [{ kind: 'task-failed', taskId: 't', reason: 'gone', status: 42 }, decodeSupernodeToPeer, '$.status', /100 to 599/],
    [{ kind: 'piece-refused', requestId: 1, reason: 'tired' }, decodeDataPlane, '$.reason', /busy, missing/],
    [{ kind: 'piece-data', requestId: 2 ** 53, taskId: 't', piece: 0, sizeBytes: 1 }, decodeDataPlane, '$.requestId', /whole number/],
  ];
  for (const [input, decode, path, message] of cases) {
    const result = decode(input);
    assert.not.ok(result.ok, `accepted ${JSON.stringify(input).slice(0, 120)}`);
    if (!result.ok) {
      assert.is(result.error.path, path);
      assert.match(result.error.message, message);
    }
  }
});

test('settings an older supernode does not send (slowFetchFactor, slowFetchMinMs) take the defaults; sent, they are checked', () => {
  const { slowFetchFactor: _factor, slowFetchMinMs: _min, ...older } = DEFAULT_PEER_SETTINGS;
  const info = (settings: unknown) => decodeSupernodeToPeer({ kind: 'task-info', taskId: 't', totalBytes: 8, pieceSizeBytes: 4, pieceCount: 2, settings });
  const decoded = info(older);
  assert.ok(decoded.ok && decoded.msg.kind === 'task-info', JSON.stringify(decoded));
  if (decoded.ok && decoded.msg.kind === 'task-info') {
    assert.is(decoded.msg.settings!.slowFetchFactor, 0);
    assert.is(decoded.msg.settings!.slowFetchMinMs, 1000);
  }
  const bad = info({ ...older, slowFetchFactor: 5000 });
  assert.ok(!bad.ok && bad.error.path === '$.settings.slowFetchFactor', JSON.stringify(bad));
  const { pullTimeoutMs: _pull, ...withoutPull } = DEFAULT_PEER_SETTINGS;
  const missing = info(withoutPull);
  assert.ok(!missing.ok && missing.error.path === '$.settings.pullTimeoutMs', 'an older setting is still required');
});

test('a grant must be whole: every field, of its type, within its bounds', () => {
  const grant = { taskId: 't', peer: 'p', expiresAtMs: 5, signature: 'c2ln' };
  const request = (g: unknown) => decodeDataPlane({ kind: 'piece-request', requestId: 1, taskId: 't', piece: 0, grant: g });
  assert.ok(request(grant).ok);
  for (const [bad, path] of [[{ ...grant, expiresAtMs: -1 }, '$.grant.expiresAtMs'], [{ ...grant, signature: 'x'.repeat(600) }, '$.grant.signature'],
    [{ taskId: 't', peer: 'p', expiresAtMs: 5 }, '$.grant.signature'], ['a string', '$.grant']] as [unknown, string][]) {
    const decoded = request(bad);
    assert.ok(!decoded.ok && decoded.error.path === path, JSON.stringify(decoded));
  }
});

test('limits on headers and arrays are enforced at their edges', () => {
  const headers = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`h${i}`, 'v']));
  const register = (task: object, blacklist: string[]) => ({ kind: 'register', taskId: 't', task, uploadAddr: '', have: [], blacklist, pattern: 'cdn' });
  assert.ok(decodePeerToSupernode(register({ url: 'http://o', headers: headers(64) }, [])).ok);
  assert.not.ok(decodePeerToSupernode(register({ url: 'http://o', headers: headers(65) }, [])).ok);
  assert.ok(decodePeerToSupernode(register({ url: 'http://o', headers: { A: 'v'.repeat(8192) } }, [])).ok);
  assert.not.ok(decodePeerToSupernode(register({ url: 'http://o', headers: { A: 'v'.repeat(8193) } }, [])).ok);
  const many = Array.from({ length: DECODE_LIMITS.arrayEntries }, (_, i) => `p${i}`);
  assert.ok(decodePeerToSupernode(register({ url: 'http://o', headers: {} }, many)).ok);
  const tooMany = decodePeerToSupernode(register({ url: 'http://o', headers: {} }, [...many, 'p']));
  assert.not.ok(tooMany.ok);
  if (!tooMany.ok) assert.match(tooMany.error.message, /100001 entries/);
});

test('have is a few ranges: a 300,000-piece seeder and a peer with MAX_HAVE_RANGES scattered ranges register within 64 KiB', () => {
  const base = { kind: 'register', taskId: 't', task: { url: 'http://o/f', headers: {} }, uploadAddr: '127.0.0.1:1', blacklist: [], pattern: 'p2p' };
  const seeder = { ...base, have: [[0, 300_000]] };
  const scattered = { ...base, have: Array.from({ length: MAX_HAVE_RANGES }, (_, i): PieceRange => [290_000 - 2 * (MAX_HAVE_RANGES - i), 290_001 - 2 * (MAX_HAVE_RANGES - i)]) };
  for (const msg of [seeder, scattered, { ...base, have: [[0, 2 ** 24]] }]) {
    const text = JSON.stringify(msg);
    assert.ok(text.length < 64 * 1024, `${text.length} characters`);
    const decoded = decodeJson(text, decodePeerToSupernode);
    assert.ok(decoded.ok, decoded.ok ? '' : decoded.error.message);
    if (decoded.ok && decoded.msg.kind === 'register') assert.equal(decoded.msg.have, msg.have);
  }
  const tooScattered = decodePeerToSupernode({ ...base, have: [...scattered.have, [295_000, 295_001]] });
  assert.not.ok(tooScattered.ok);
  if (!tooScattered.ok) assert.match(tooScattered.error.message, `${MAX_HAVE_RANGES + 1} ranges; at most ${MAX_HAVE_RANGES}`);
});

test('hostile objects: accessors, proxies, prototypes and sparse arrays are refused without running their code', () => {
  let getterRan = false;
  const withGetter = { kind: 'leave', get taskId() { getterRan = true; return 't'; } };
  const result = decodePeerToSupernode(withGetter);
  assert.not.ok(result.ok);
  assert.not.ok(getterRan, 'decoder invoked a getter');
  if (!result.ok) assert.is(result.error.path, '$.taskId');

  const trap = () => { throw new Error('trap ran'); };
  const hostileProxy = new Proxy({}, { get: trap, getOwnPropertyDescriptor: trap, ownKeys: trap, getPrototypeOf: trap, has: trap });
  const proxied = decodeDataPlane(hostileProxy);
  assert.not.ok(proxied.ok);
  if (!proxied.ok) assert.match(proxied.error.message, /could not be inspected/);

  const revocable = Proxy.revocable({}, {});
  revocable.revoke();
  assert.not.ok(decodeSupernodeToPeer(revocable.proxy).ok);

  class Leave { kind = 'leave'; taskId = 't'; }
  assert.not.ok(decodePeerToSupernode(new Leave()).ok);
  assert.ok(decodePeerToSupernode(Object.assign(Object.create(null), { kind: 'leave', taskId: 't' })).ok);

  const sparse: PieceRange[] = [];
  sparse[2] = [0, 1];
  const sparseResult = decodePeerToSupernode({ kind: 'register', taskId: 't', task: { url: 'u', headers: {} }, uploadAddr: '', have: sparse, blacklist: [], pattern: 'p2p' });
  assert.not.ok(sparseResult.ok);
  if (!sparseResult.ok) assert.is(sparseResult.error.path, '$.have[0]');

  const toStringBomb = { toString: trap, valueOf: trap, [Symbol.toPrimitive]: trap };
  for (const decode of [decodePeerToSupernode, decodeSupernodeToPeer, decodeDataPlane] as Decoder[]) {
    assert.not.ok(decode({ kind: toStringBomb }).ok);
    assert.not.ok(decode({ kind: Symbol('x') }).ok);
    assert.not.ok(decode({ kind: 10n }).ok);
    assert.not.ok(decode(() => 1).ok);
  }
});

test('__proto__ keys are neither trusted nor able to pollute a prototype', () => {
  const text = '{"kind":"register","taskId":"t","uploadAddr":"","have":[],"blacklist":[],"pattern":"p2p",'
    + '"task":{"url":"http://o","headers":{"__proto__":{"polluted":"yes"}}},"__proto__":{"kind":"leave"}}';
  const result = decodeJson(text, decodePeerToSupernode);
  assert.not.ok(result.ok);
  if (!result.ok) assert.is(result.error.path, '$.task.headers["__proto__"]');
  assert.is(({} as Record<string, unknown>).polluted, undefined);
  const extra = decodeJson('{"kind":"leave","taskId":"t","__proto__":{"isAdmin":true},"extra":1}', decodePeerToSupernode);
  assert.ok(extra.ok);
  if (extra.ok) {
    assert.equal(Object.keys(extra.msg), ['kind', 'taskId']);
    assert.is(Object.getPrototypeOf(extra.msg), Object.prototype);
    assert.is((extra.msg as unknown as Record<string, unknown>).isAdmin, undefined);
  }
});

test('-0 piece indices and retry hints come out as 0', () => {
  const result = decodeDataPlane({ kind: 'piece-request', requestId: -0, taskId: 't', piece: -0 });
  assert.ok(result.ok);
  if (result.ok && result.msg.kind === 'piece-request') {
    assert.ok(Object.is(result.msg.piece, 0));
    assert.ok(Object.is(result.msg.requestId, 0));
  }
});

test('parseJsonSafe: bad text, non-strings, oversized and deeply nested input give typed errors', () => {
  assert.equal(parseJsonSafe('{"a":1}'), { ok: true, msg: { a: 1 } });
  for (const bad of ['', '{', 'undefined', "{'a':1}", '[1,]', 'NaN']) {
    const result = parseJsonSafe(bad);
    assert.not.ok(result.ok);
    if (!result.ok) assert.match(result.error.message, /not valid JSON/);
  }
  for (const notText of [undefined, null, 42, {}, Buffer.from('{}')]) assert.not.ok(parseJsonSafe(notText).ok);
  const oversized = parseJsonSafe(`"${'x'.repeat(100)}"`, 50);
  assert.not.ok(oversized.ok);
  if (!oversized.ok) assert.match(oversized.error.message, /102 characters is over the 50-character limit/);
  const deep = `${'['.repeat(200_000)}${']'.repeat(200_000)}`;
  const deepResult = decodeJson(deep, decodePeerToSupernode);
  assert.not.ok(deepResult.ok);
  if (!deepResult.ok) assert.match(deepResult.error.message, /nested deeper than 32 levels/);
  const nestedJustEnough = `${'{"a":'.repeat(31)}["]]]]\\\"[[[[{{"]${'}'.repeat(31)}`;
  assert.ok(parseJsonSafe(nestedJustEnough).ok, 'brackets inside strings, after escapes, do not count');
  assert.not.ok(parseJsonSafe(`[${nestedJustEnough}]`).ok);
});

/** Replace, drop or add one field somewhere inside a valid message. */
function mutate(msg: unknown, choices: { pathPick: number; action: number; replacement: unknown }): unknown {
  const copy = JSON.parse(JSON.stringify(msg)) as Record<string, unknown>;
  const containers: Record<string, unknown>[] = [];
  const collect = (value: unknown) => {
    if (typeof value !== 'object' || value === null) return;
    containers.push(value as Record<string, unknown>);
    for (const child of Object.values(value)) collect(child);
  };
  collect(copy);
  const target = containers[choices.pathPick % containers.length];
  const keys = Object.keys(target);
  const key = keys.length > 0 ? keys[choices.pathPick % keys.length] : '0';
  switch (choices.action % 4) {
    case 0: delete target[key]; break;
    case 1: target[key] = choices.replacement; break;
    case 2: Object.defineProperty(target, '__proto__', { value: choices.replacement, enumerable: true }); break;
    default: target[`${key}x`] = choices.replacement; break;
  }
  return copy;
}

const nastyValue = fc.oneof(
  fc.anything({ withBigInt: true, withNullPrototype: true, withObjectString: true, withBoxedValues: true, withSparseArray: true, withTypedArray: true }),
  fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, -1, -0, 1.5, 2 ** 53, 2 ** 24, 1e308, '', 'x'.repeat(9000), [], {}, null, true),
);

test('10,000 malformed inputs give typed errors and never throw', () => {
  let rejected = 0;
  const countRejected = (result: Decoded<unknown>) => { if (!result.ok) rejected++; };
  for (const [name, arb, decode] of families) {
    checkProperty(import.meta.url, `${name} anything`, fc.property(nastyValue, (value) => {
      const result = decode(value);
      assertTyped(result, decode);
      countRejected(result);
    }), { numRuns: 1200 });
    checkProperty(import.meta.url, `${name} mutated`, fc.property(
      arb, fc.record({ pathPick: fc.nat(), action: fc.nat(), replacement: nastyValue }),
      (msg, choices) => {
        const mutant = mutate(msg, choices);
        assertTyped(decode(mutant), decode);
        const viaJson = (() => { try { return JSON.stringify(mutant); } catch { return undefined; } })();
        if (viaJson !== undefined) assertTyped(decodeJson(viaJson, decode), decode);
      },
    ), { numRuns: 1200 });
    checkProperty(import.meta.url, `${name} random text`, fc.property(
      fc.oneof(fc.string({ maxLength: 200 }), fc.json(), arb.map((msg) => JSON.stringify(msg)).chain((text) =>
        fc.tuple(fc.nat({ max: text.length }), fc.string({ maxLength: 3 })).map(([at, junk]) => text.slice(0, at) + junk + text.slice(at + 1)))),
      (text) => {
        const result = decodeJson(text, decode);
        assertTyped(result, decode);
        countRejected(result);
      },
    ), { numRuns: 1000 });
  }
  assert.ok(rejected > 3000, `only ${rejected} inputs were rejected: the generators are too tame`);
});

test.run();
