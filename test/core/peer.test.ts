import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { applyAndDrain, fireDue } from '../../core/drive.ts';
import { Bitset } from '../../core/bitset.ts';
import { missingRanges, Peer } from '../../core/peer.ts';
import { MAX_SOURCE_RANGES, type PeerEffect, type PeerInput } from '../../core/peer-io.ts';
import type { SupernodeToPeer, TaskSpec } from '../../core/protocol.ts';
import { SUPERNODE } from '../../core/protocol.ts';
import { DEFAULT_PEER_SETTINGS, type PeerLocalConfig, type PeerSettings } from '../../core/settings.ts';

const T = 'c'.repeat(64);
const SPEC: TaskSpec = { url: 'http://origin.test/f', headers: {} };
const PIECE = 1000;

/** Timeout the data-plane request of a fetch gets with the default settings. */
const FETCH_TIMEOUT_MS = DEFAULT_PEER_SETTINGS.pieceTimeoutMs + DEFAULT_PEER_SETTINGS.fetchGraceMs;

/**
 * A peer whose supernode sends `settings` over the defaults in task-info (the only way a peer gets
 * settings); `local` is what the host sets itself. `settings` effects are left out of what the
 * helpers return (a test of its own checks them).
 */
function machine(settings: Partial<PeerSettings> = {}, start: Partial<Extract<PeerInput, { kind: 'start' }>> = {},
  local: PeerLocalConfig = { backToSource: true }) {
  const peer = new Peer(local, 'me');
  const feed = (nowMs: number, input: PeerInput): PeerEffect[] => {
    const out: PeerEffect[] = [];
    applyAndDrain(peer, nowMs, input, (e) => out.push(e));
    return out.filter((e) => e.kind !== 'log' && e.kind !== 'settings');
  };
  const fromSn = (nowMs: number, msg: SupernodeToPeer, from = 'sn-a') => feed(nowMs, { kind: 'supernode-message', from, msg });
  const started = feed(0, { kind: 'start', taskId: T, task: SPEC, supernodes: ['sn-a', 'sn-b'], uploadAddr: 'me:1', ...start });
  const info = (nowMs: number, pieceCount = 3, from = 'sn-a') => fromSn(nowMs, {
    kind: 'task-info', taskId: T, totalBytes: pieceCount * PIECE - 1, pieceSizeBytes: PIECE, pieceCount,
    settings: { ...DEFAULT_PEER_SETTINGS, ...settings },
  }, from);
  const timeouts = (nowMs: number) => { const out: PeerEffect[] = []; fireDue(peer, nowMs, (e) => out.push(e)); return out.filter((e) => e.kind !== 'log'); };
  return { peer, feed, fromSn, started, info, timeouts };
}

test('registers with the first supernode, then pulls once the plan arrives', () => {
  const { started, info } = machine();
  assert.equal(started, [{ kind: 'send', to: 'sn-a', msg: { kind: 'register', taskId: T, task: SPEC, uploadAddr: 'me:1', have: [], blacklist: [], pattern: 'p2p', lateDigest: true } }]);
  assert.equal(info(1), [
    { kind: 'plan', taskId: T, totalBytes: 2999, pieceSizeBytes: PIECE, pieceCount: 3, discardLocal: false },
    { kind: 'send', to: 'sn-a', msg: { kind: 'pull', taskId: T, results: [] } },
  ]);
});

test('fetches what it is assigned; a verified piece is written and reported, a corrupt one is not', () => {
  const { fromSn, info, feed, peer } = machine();
  info(1);
  assert.equal(fromSn(2, { kind: 'assign', taskId: T, retryAfterMs: 0, pieces: [
    { piece: 0, source: SUPERNODE, sourceAddr: '', digest: 'sha256:a' },
    { piece: 2, source: 'p9', sourceAddr: 'p9:1', digest: 'sha256:c' },
  ] }), [
    { kind: 'fetch-piece', taskId: T, piece: 0, source: SUPERNODE, sourceAddr: 'sn-a', startByte: 0, endByte: 1000, expectedDigest: 'sha256:a', timeoutMs: FETCH_TIMEOUT_MS },
    { kind: 'fetch-piece', taskId: T, piece: 2, source: 'p9', sourceAddr: 'p9:1', startByte: 2000, endByte: 2999, expectedDigest: 'sha256:c', timeoutMs: FETCH_TIMEOUT_MS },
  ]);
  assert.equal(feed(3, { kind: 'piece-fetched', piece: 0, source: SUPERNODE, digest: 'sha256:a' }), [
    { kind: 'write-piece', taskId: T, piece: 0, startByte: 0, endByte: 1000 },
    { kind: 'send', to: 'sn-a', msg: { kind: 'pull', taskId: T, results: [{ piece: 0, source: SUPERNODE, ok: true }] }, waitForUploaderMs: 3000 },
  ]);
  assert.equal(feed(4, { kind: 'piece-fetched', piece: 2, source: 'p9', digest: 'sha256:evil' }), [], 'result waits for the pull answer');
  assert.ok(peer.blacklisted.has('p9'));
  assert.equal(fromSn(5, { kind: 'assign', taskId: T, retryAfterMs: 0, pieces: [] }), [
    { kind: 'send', to: 'sn-a', msg: { kind: 'pull', taskId: T, results: [{ piece: 2, source: 'p9', ok: false, failure: 'corrupt' }] } },
  ]);
  assert.is(peer.verifiedPieces, 1);
});

test('the last verified piece reports and finishes', () => {
  const { fromSn, info, feed } = machine();
  info(1, 1);
  fromSn(2, { kind: 'assign', taskId: T, retryAfterMs: 0, pieces: [{ piece: 0, source: 'p1', sourceAddr: 'p1:1', digest: 'sha256:a' }] });
  assert.equal(feed(3, { kind: 'piece-fetched', piece: 0, source: 'p1', digest: 'sha256:a' }), [
    { kind: 'write-piece', taskId: T, piece: 0, startByte: 0, endByte: 999 },
    { kind: 'send', to: 'sn-a', msg: { kind: 'report', taskId: T, results: [{ piece: 0, source: 'p1', ok: true }] }, waitForUploaderMs: 3000 },
    { kind: 'done', taskId: T, fromPeersBytes: 999, fromSupernodeBytes: 0, fromSourceBytes: 0 },
  ]);
});

test('a silent supernode is left for the next one, carrying pieces and blacklist; then back to source', () => {
  const { fromSn, info, feed, timeouts } = machine({ pullTimeoutMs: 100 });
  info(1);
  fromSn(2, { kind: 'assign', taskId: T, retryAfterMs: 0, pieces: [
    { piece: 0, source: 'p1', sourceAddr: 'p1:1', digest: 'sha256:a' }, { piece: 1, source: 'p2', sourceAddr: 'p2:1', digest: 'sha256:b' },
  ] });
  feed(3, { kind: 'piece-fetched', piece: 0, source: 'p1', digest: 'sha256:a' });
  feed(4, { kind: 'piece-fetched', piece: 1, source: 'p2', digest: null, failure: 'unreachable' });
  assert.equal(timeouts(3 + 100), [
    { kind: 'send', to: 'sn-b', msg: { kind: 'register', taskId: T, task: SPEC, uploadAddr: 'me:1', have: [[0, 1]], havePlan: { totalBytes: 2999, pieceSizeBytes: PIECE }, blacklist: ['p2'], pattern: 'p2p', lateDigest: true } },
  ]);
  assert.equal(fromSn(104, { kind: 'wait', taskId: T, retryAfterMs: 10, reason: '' }, 'sn-a'), [], 'messages from the old supernode are ignored');
  assert.equal(feed(105, { kind: 'supernode-down', supernode: 'sn-b' }), [
    { kind: 'fetch-source', taskId: T, task: SPEC, missing: [{ startByte: 1000, endByte: 2999 }] },
  ], 'piece 0 is held: only the rest comes from the source');
  assert.equal(feed(106, { kind: 'source-fetched', ok: true, sizeBytes: 1999 }), [
    { kind: 'done', taskId: T, fromPeersBytes: 1000, fromSupernodeBytes: 0, fromSourceBytes: 1999 },
  ]);
});

test('without back-to-source, losing every supernode fails with a clear reason', () => {
  const { feed } = machine({}, {}, { backToSource: false });
  feed(1, { kind: 'supernode-down', supernode: 'sn-a' });
  const out = feed(2, { kind: 'supernode-down', supernode: 'sn-b' });
  assert.is(out.length, 1);
  assert.is(out[0].kind, 'failed');
  assert.match((out[0] as { reason: string }).reason, /no supernode reachable/);
});

test('a fetch with no answer times out, is cancelled and reported', () => {
  const { fromSn, info, timeouts } = machine({ pieceTimeoutMs: 50 });
  info(1);
  fromSn(2, { kind: 'assign', taskId: T, retryAfterMs: 0, pieces: [{ piece: 1, source: 'p3', sourceAddr: 'p3:1', digest: 'sha256:b' }] });
  assert.equal(timeouts(52), [
    { kind: 'cancel-fetch', taskId: T, piece: 1, source: 'p3' },
    { kind: 'send', to: 'sn-a', msg: { kind: 'pull', taskId: T, results: [{ piece: 1, source: 'p3', ok: false, failure: 'timeout' }] } },
  ]);
});

test('slow-fetch rescue: in the tail, a peer fetch past factor x the pace of the verified ones is cancelled, its source blacklisted locally', () => {
  const { fromSn, info, feed, timeouts, peer } = machine({ slowFetchFactor: 3, slowFetchMinMs: 100 });
  info(1, 4);
  fromSn(2, { kind: 'assign', taskId: T, retryAfterMs: 0, pieces: [
    { piece: 0, source: SUPERNODE, sourceAddr: '', digest: 'sha256:a' }, { piece: 1, source: SUPERNODE, sourceAddr: '', digest: 'sha256:b' },
  ] });
  // 1000 bytes in 100 ms: the pace.
  feed(102, { kind: 'piece-fetched', piece: 0, source: SUPERNODE, digest: 'sha256:a' });
  fromSn(103, { kind: 'assign', taskId: T, retryAfterMs: 0, pieces: [
    { piece: 2, source: 'p2', sourceAddr: 'p2:1', digest: 'sha256:c' }, { piece: 3, source: 'p3', sourceAddr: 'p3:1', digest: 'sha256:d' },
  ] });
  // Pieces 1-3 are missing and all run here: the tail. Piece 2 (1000 bytes, 3 x 100 ms) is slow from 403, piece 3 (999 bytes) from 402.7.
  assert.equal(peer.nextDeadlineMs(), 103 + 3 * (100 * 999 / 1000));
  assert.equal(timeouts(402), []);
  assert.equal(timeouts(403), [
    { kind: 'cancel-fetch', taskId: T, piece: 2, source: 'p2' },
    { kind: 'cancel-fetch', taskId: T, piece: 3, source: 'p3' },
    { kind: 'send', to: 'sn-a', msg: { kind: 'pull', taskId: T, results: [
      { piece: 2, source: 'p2', ok: false, failure: 'slow' }, { piece: 3, source: 'p3', ok: false, failure: 'slow' },
    ] } },
  ]);
  assert.ok(peer.blacklisted.has('p2') && peer.blacklisted.has('p3'));
  fromSn(404, { kind: 'assign', taskId: T, retryAfterMs: 0, pieces: [] });
  assert.is(peer.nextDeadlineMs(), 2 + DEFAULT_PEER_SETTINGS.pieceTimeoutMs, 'piece 1 comes from the supernode: only its timeout');
});

test('slow-fetch rescue waits for the tail (or every slot stuck), never rescues the supernode, and is off at factor 0', () => {
  const secondFetchFrom = (settings: Partial<PeerSettings>, source: string) => {
    const m = machine(settings);
    m.info(1, 3);
    m.fromSn(2, { kind: 'assign', taskId: T, retryAfterMs: 0, pieces: [{ piece: 0, source: 'p1', sourceAddr: 'p1:1', digest: 'sha256:a' }] });
    m.feed(12, { kind: 'piece-fetched', piece: 0, source: 'p1', digest: 'sha256:a' });
    m.fromSn(13, { kind: 'assign', taskId: T, retryAfterMs: 0, pieces: [{ piece: 1, source, sourceAddr: `${source}:1`, digest: 'sha256:b' }] });
    return m;
  };
  const notTail = secondFetchFrom({ slowFetchFactor: 2, slowFetchMinMs: 0 }, 'p2');
  assert.is(notTail.peer.nextDeadlineMs(), 13 + DEFAULT_PEER_SETTINGS.pieceTimeoutMs, 'piece 2 is missing and not running: no rescue');
  assert.equal(notTail.timeouts(10_000), []);
  notTail.fromSn(10_001, { kind: 'assign', taskId: T, retryAfterMs: 0, pieces: [{ piece: 2, source: 'p3', sourceAddr: 'p3:1', digest: 'sha256:c' }] });
  assert.equal(notTail.timeouts(10_001), [
    { kind: 'cancel-fetch', taskId: T, piece: 1, source: 'p2' },
    { kind: 'send', to: 'sn-a', msg: { kind: 'pull', taskId: T, results: [{ piece: 1, source: 'p2', ok: false, failure: 'slow' }] } },
  ], 'the tail began: a fetch already past its slow mark goes at once');
  assert.is(secondFetchFrom({ slowFetchFactor: 2, slowFetchMinMs: 0 }, SUPERNODE).peer.nextDeadlineMs(), 13 + DEFAULT_PEER_SETTINGS.pieceTimeoutMs);
  assert.is(secondFetchFrom({ slowFetchFactor: 0, slowFetchMinMs: 0 }, 'p2').peer.nextDeadlineMs(), 13 + DEFAULT_PEER_SETTINGS.pieceTimeoutMs);
  const early = machine({ slowFetchFactor: 3, slowFetchMinMs: 200 });
  early.info(1, 1);
  early.fromSn(2, { kind: 'assign', taskId: T, retryAfterMs: 0, pieces: [{ piece: 0, source: 'p1', sourceAddr: 'p1:1', digest: 'sha256:a' }] });
  assert.is(early.peer.nextDeadlineMs(), 2 + 3 * 200, 'before any fetch has finished, a piece per slowFetchMinMs is the pace');
  const floor = secondFetchFrom({ slowFetchFactor: 2, slowFetchMinMs: 500 }, 'p2');
  floor.fromSn(14, { kind: 'assign', taskId: T, retryAfterMs: 0, pieces: [{ piece: 2, source: 'p3', sourceAddr: 'p3:1', digest: 'sha256:c' }] });
  assert.is(floor.peer.nextDeadlineMs(), 13 + 500, 'slowFetchMinMs is the floor');
});

test('slow-fetch rescue: when every download slot holds a slow fetch (a source stopped answering), all of them go', () => {
  const { fromSn, info, feed, timeouts, peer } = machine({ slowFetchFactor: 2, slowFetchMinMs: 0, peerDownLimit: 2, piecesPerPull: 2 });
  info(1, 10);
  fromSn(2, { kind: 'assign', taskId: T, retryAfterMs: 0, pieces: [{ piece: 0, source: 'p1', sourceAddr: 'p1:1', digest: 'sha256:a' }] });
  feed(12, { kind: 'piece-fetched', piece: 0, source: 'p1', digest: 'sha256:a' });
  fromSn(13, { kind: 'assign', taskId: T, retryAfterMs: 0, pieces: [{ piece: 1, source: 'stuck', sourceAddr: 'stuck:1', digest: 'sha256:b' }] });
  assert.is(peer.nextDeadlineMs(), 13 + DEFAULT_PEER_SETTINGS.pieceTimeoutMs, 'one slot of two stuck: the other can still move');
  fromSn(20, { kind: 'assign', taskId: T, retryAfterMs: 0, pieces: [{ piece: 2, source: 'stuck', sourceAddr: 'stuck:1', digest: 'sha256:c' }] });
  assert.is(peer.nextDeadlineMs(), 20 + 2 * 10, 'both slots taken: rescued once the later one is slow too');
  assert.equal(timeouts(40), [
    { kind: 'cancel-fetch', taskId: T, piece: 1, source: 'stuck' },
    { kind: 'cancel-fetch', taskId: T, piece: 2, source: 'stuck' },
    { kind: 'send', to: 'sn-a', msg: { kind: 'pull', taskId: T, results: [
      { piece: 1, source: 'stuck', ok: false, failure: 'slow' }, { piece: 2, source: 'stuck', ok: false, failure: 'slow' },
    ] } },
  ]);
  assert.ok(peer.blacklisted.has('stuck'));
});

test('resume: verified pieces on disk are registered as ranges of their plan, reused when the plan matches, discarded when it does not', () => {
  const same = machine({}, { have: [2, 0, 1, 2, 7], resumePlan: { totalBytes: 2999, pieceSizeBytes: PIECE } });
  assert.equal(same.started[0], {
    kind: 'send', to: 'sn-a',
    msg: { kind: 'register', taskId: T, task: SPEC, uploadAddr: 'me:1', have: [[0, 3]], havePlan: { totalBytes: 2999, pieceSizeBytes: PIECE }, blacklist: [], pattern: 'p2p', lateDigest: true },
  });
  const out = same.info(1);
  assert.equal(out[0], { kind: 'plan', taskId: T, totalBytes: 2999, pieceSizeBytes: PIECE, pieceCount: 3, discardLocal: false });
  assert.is(out[1].kind, 'done');
  const changed = machine({}, { have: [0], resumePlan: { totalBytes: 5000, pieceSizeBytes: PIECE } });
  const out2 = changed.info(1);
  assert.equal(out2[0], { kind: 'plan', taskId: T, totalBytes: 2999, pieceSizeBytes: PIECE, pieceCount: 3, discardLocal: true });
  assert.is(out2[1].kind, 'send');
});

test('a wait answer arms a retry; the retry pulls again', () => {
  const { fromSn, info, timeouts } = machine();
  info(1);
  assert.equal(fromSn(2, { kind: 'wait', taskId: T, retryAfterMs: 40, reason: 'busy' }), []);
  assert.equal(timeouts(41), []);
  assert.equal(timeouts(42), [{ kind: 'send', to: 'sn-a', msg: { kind: 'pull', taskId: T, results: [] } }]);
});

test('task-failed from the supernode ends the download with the source status', () => {
  const { fromSn } = machine();
  assert.equal(fromSn(1, { kind: 'task-failed', taskId: T, reason: 'source answered 404', status: 404 }), [
    { kind: 'send', to: 'sn-a', msg: { kind: 'leave', taskId: T } },
    { kind: 'failed', taskId: T, reason: 'source answered 404', status: 404 },
  ]);
});

test('migration cancels every running fetch, so the next supernode and the peer agree on what runs', () => {
  const { fromSn, info, feed } = machine();
  info(1);
  fromSn(2, { kind: 'assign', taskId: T, retryAfterMs: 0, pieces: [
    { piece: 1, source: 'p1', sourceAddr: 'p1:1', digest: 'sha256:b' }, { piece: 2, source: SUPERNODE, sourceAddr: '', digest: 'sha256:c' },
  ] });
  assert.equal(feed(3, { kind: 'supernode-down', supernode: 'sn-a' }), [
    { kind: 'cancel-fetch', taskId: T, piece: 1, source: 'p1' },
    { kind: 'cancel-fetch', taskId: T, piece: 2, source: SUPERNODE },
    { kind: 'send', to: 'sn-b', msg: { kind: 'register', taskId: T, task: SPEC, uploadAddr: 'me:1', have: [], blacklist: [], pattern: 'p2p', lateDigest: true } },
  ]);
  assert.equal(feed(4, { kind: 'piece-fetched', piece: 1, source: 'p1', digest: 'sha256:b' }), [], 'late bytes of a cancelled fetch are ignored');
});

test('an assignment for a piece already running is handed back as busy (regression: faults seed 1)', () => {
  const { fromSn, info } = machine();
  info(1);
  fromSn(2, { kind: 'assign', taskId: T, retryAfterMs: 0, pieces: [{ piece: 1, source: 'p1', sourceAddr: 'p1:1', digest: 'sha256:b' }] });
  fromSn(3, { kind: 'assign', taskId: T, retryAfterMs: 0, pieces: [] });
  assert.equal(fromSn(4, { kind: 'assign', taskId: T, retryAfterMs: 0, pieces: [{ piece: 1, source: SUPERNODE, sourceAddr: '', digest: 'sha256:b' }] }), [
    { kind: 'send', to: 'sn-a', msg: { kind: 'pull', taskId: T, results: [{ piece: 1, source: SUPERNODE, ok: false, failure: 'busy' }] } },
  ]);
});

test('a downloading peer with nothing running and no answer pending always has a retry armed', () => {
  const { fromSn, info, peer } = machine({ waitMaxMs: 700 });
  info(1);
  fromSn(2, { kind: 'assign', taskId: T, retryAfterMs: 0, pieces: [] });
  assert.is(peer.nextDeadlineMs(), 702);
});

test('the supernode\'s settings are adopted from task-info; a supernode that sends none leaves the defaults, logged', () => {
  const tuned = new Peer({ backToSource: true }, 'me');
  const effects: PeerEffect[] = [];
  applyAndDrain(tuned, 0, { kind: 'start', taskId: T, task: SPEC, supernodes: ['sn-a'], uploadAddr: 'me:1' }, () => {});
  const settings = { ...DEFAULT_PEER_SETTINGS, peerDownLimit: 8, piecesPerPull: 8, pieceTimeoutMs: 500 };
  applyAndDrain(tuned, 1, { kind: 'supernode-message', from: 'sn-a', msg: { kind: 'task-info', taskId: T, totalBytes: 20 * PIECE, pieceSizeBytes: PIECE, pieceCount: 20, settings } }, (e) => effects.push(e));
  assert.equal(effects[0], { kind: 'settings', settings, origin: 'supernode' });
  assert.equal(tuned.settings, { settings, origin: 'supernode' });
  const pieces = Array.from({ length: 8 }, (_, piece) => ({ piece, source: SUPERNODE, sourceAddr: '', digest: `sha256:${piece}` }));
  effects.length = 0;
  applyAndDrain(tuned, 2, { kind: 'supernode-message', from: 'sn-a', msg: { kind: 'assign', taskId: T, retryAfterMs: 0, pieces } }, (e) => effects.push(e));
  const fetches = effects.filter((e) => e.kind === 'fetch-piece');
  assert.is(fetches.length, 8, 'eight pieces in flight, as the supernode\'s peerDownLimit says');
  assert.ok(fetches.every((e) => e.kind === 'fetch-piece' && e.timeoutMs === 500 + DEFAULT_PEER_SETTINGS.fetchGraceMs));

  const old = new Peer({ backToSource: true }, 'me');
  const out: PeerEffect[] = [];
  applyAndDrain(old, 0, { kind: 'start', taskId: T, task: SPEC, supernodes: ['sn-a'], uploadAddr: 'me:1' }, () => {});
  applyAndDrain(old, 1, { kind: 'supernode-message', from: 'sn-a', msg: { kind: 'task-info', taskId: T, totalBytes: PIECE, pieceSizeBytes: PIECE, pieceCount: 1 } }, (e) => out.push(e));
  assert.ok(out.some((e) => e.kind === 'log' && e.level === 'warn' && /sent no settings.*defaults/.test(e.message)), 'the fallback is logged');
  assert.equal(out.find((e) => e.kind === 'settings'), { kind: 'settings', settings: DEFAULT_PEER_SETTINGS, origin: 'default' });
});

test('a pull that claims pieces asks the driver to wait for the uploader, bounded by a quarter of the pull timeout', () => {
  const { fromSn, info, feed } = machine({ uploaderWaitMs: 3000, pullTimeoutMs: 4000 });
  info(1);
  fromSn(2, { kind: 'assign', taskId: T, retryAfterMs: 0, pieces: [{ piece: 0, source: 'p1', sourceAddr: 'p1:1', digest: 'sha256:a' }] });
  const sent = feed(3, { kind: 'piece-fetched', piece: 0, source: 'p1', digest: 'sha256:a' }).find((e) => e.kind === 'send');
  assert.equal(sent, { kind: 'send', to: 'sn-a', msg: { kind: 'pull', taskId: T, results: [{ piece: 0, source: 'p1', ok: true }] }, waitForUploaderMs: 1000 });
});

test('admission: task-info\'s key goes to the uploader, its grant rides every piece request; an assign renews it', () => {
  const { fromSn, feed } = machine();
  const grant = { taskId: T, peer: 'me', expiresAtMs: 5000, signature: 'sig-1' };
  const info = fromSn(1, { kind: 'task-info', taskId: T, totalBytes: 2999, pieceSizeBytes: PIECE, pieceCount: 3, settings: DEFAULT_PEER_SETTINGS, grant, supernodeKey: 'key-a' });
  assert.equal(info[0], { kind: 'trust', taskId: T, supernodeKey: 'key-a' });
  const first = fromSn(2, { kind: 'assign', taskId: T, retryAfterMs: 0, pieces: [{ piece: 0, source: 'p9', sourceAddr: 'p9:1', digest: 'sha256:a' }] });
  assert.equal(first.map((e) => e.kind === 'fetch-piece' && e.grant), [grant]);
  const renewed = { ...grant, expiresAtMs: 9000, signature: 'sig-2' };
  const refused = feed(3, { kind: 'piece-fetched', piece: 0, source: 'p9', digest: null, failure: 'unauthorized' });
  assert.equal(refused, [{ kind: 'send', to: 'sn-a', msg: { kind: 'pull', taskId: T, results: [{ piece: 0, source: 'p9', ok: false, failure: 'unauthorized' }] } }]);
  const second = fromSn(4, { kind: 'assign', taskId: T, retryAfterMs: 0, grant: renewed, pieces: [{ piece: 0, source: 'p9', sourceAddr: 'p9:1', digest: 'sha256:a' }] });
  assert.equal(second.map((e) => e.kind === 'fetch-piece' && e.grant), [renewed], 'the source that refused the old grant is not blacklisted; the new grant is sent');
});

test('missing ranges: one per run of missing pieces; past MAX_SOURCE_RANGES the narrowest held gaps are fetched too', () => {
  const plan = { totalBytes: 1000 * 10 - 5, pieceSizeBytes: 1000, pieceCount: 10 };
  const have = new Bitset(10);
  for (const piece of [0, 3, 4, 8]) have.add(piece);
  assert.equal(missingRanges(plan, have), [
    { startByte: 1000, endByte: 3000 }, { startByte: 5000, endByte: 8000 }, { startByte: 9000, endByte: 9995 },
  ]);
  const many = { totalBytes: 1000 * 200, pieceSizeBytes: 1000, pieceCount: 200 };
  const alternate = new Bitset(200);
  for (let piece = 0; piece < 200; piece += 2) alternate.add(piece);
  alternate.add(101);
  const ranges = missingRanges(many, alternate);
  assert.is(ranges.length, MAX_SOURCE_RANGES);
  const covered = new Set<number>();
  for (const r of ranges) for (let b = r.startByte; b < r.endByte; b += 1000) covered.add(b / 1000);
  for (let piece = 0; piece < 200; piece++) if (!alternate.has(piece)) assert.ok(covered.has(piece), `piece ${piece} is fetched`);
  assert.ok(ranges.every((r, i) => i === 0 || r.startByte > ranges[i - 1].endByte), 'in order, not overlapping');
});

test.run();
