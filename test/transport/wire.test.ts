import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import {
  decodePieceFrame, encodePieceFrame, MAX_HEADER_BYTES, MAX_PIECE_BYTES, pieceFramePrefix,
} from '../../transport/wire.ts';
import { isTaskId, taskIdFor } from '../../transport/task-id.ts';
import { checkProperty } from '../helpers/fc-rerun.ts';
import type { PieceDataMsg } from '../../core/protocol.ts';

const TASK = 'ab'.repeat(32);

function header(sizeBytes: number): PieceDataMsg {
  return { kind: 'piece-data', requestId: 7, taskId: TASK, piece: 3, sizeBytes };
}

test('a piece frame round-trips header and bytes', () => {
  const bytes = Buffer.from('hello piece');
  const decoded = decodePieceFrame(encodePieceFrame(header(bytes.length), bytes));
  assert.ok(decoded.ok);
  if (!decoded.ok) return;
  assert.equal(decoded.header, header(bytes.length));
  assert.equal(Buffer.compare(decoded.bytes, bytes), 0);
});

test('a prefix followed by the bytes is the same frame encodePieceFrame builds', () => {
  const bytes = Buffer.from('placed by the sender');
  const frame = Buffer.concat([pieceFramePrefix(header(bytes.length)), bytes]);
  assert.equal(frame, encodePieceFrame(header(bytes.length), bytes));
  assert.ok(decodePieceFrame(frame).ok);
});

test('an empty piece round-trips', () => {
  const decoded = decodePieceFrame(encodePieceFrame(header(0), new Uint8Array(0)));
  assert.ok(decoded.ok);
});

test('fragments and ArrayBuffers decode like one Buffer', () => {
  const frame = encodePieceFrame(header(5), Buffer.from('abcde'));
  const fragments = [frame.subarray(0, 3), frame.subarray(3, 20), frame.subarray(20)];
  assert.ok(decodePieceFrame(fragments).ok);
  const arrayBuffer = new Uint8Array(frame).buffer;
  assert.ok(decodePieceFrame(arrayBuffer).ok);
});

test('a truncated or padded frame is rejected by sizeBytes', () => {
  const frame = encodePieceFrame(header(5), Buffer.from('abcde'));
  const short = decodePieceFrame(frame.subarray(0, frame.length - 1));
  assert.not.ok(short.ok);
  const padded = decodePieceFrame(Buffer.concat([frame, Buffer.from('x')]));
  assert.not.ok(padded.ok);
  if (!padded.ok) assert.match(padded.error.message, /header says 5 bytes/);
});

test('header length out of bounds is rejected', () => {
  const tooLong = Buffer.alloc(8);
  tooLong.writeUInt32BE(MAX_HEADER_BYTES + 1, 0);
  assert.not.ok(decodePieceFrame(tooLong).ok);
  const pastEnd = Buffer.alloc(8);
  pastEnd.writeUInt32BE(100, 0);
  assert.not.ok(decodePieceFrame(pastEnd).ok);
  assert.not.ok(decodePieceFrame(Buffer.alloc(2)).ok);
});

test('headers with the wrong shape are rejected', () => {
  const bad: unknown[] = [
    null, [], 'x', { kind: 'piece-request' },
    { ...header(0), requestId: -1 }, { ...header(0), piece: 1.5 }, { ...header(0), taskId: 5 },
    { ...header(0), sizeBytes: MAX_PIECE_BYTES + 1 },
  ];
  for (const value of bad) {
    const json = Buffer.from(JSON.stringify(value));
    const frame = Buffer.alloc(4 + json.length);
    frame.writeUInt32BE(json.length, 0);
    json.copy(frame, 4);
    assert.not.ok(decodePieceFrame(frame).ok, JSON.stringify(value));
  }
});

test('encode refuses a header that lies about the size', () => {
  assert.throws(() => encodePieceFrame(header(4), Buffer.from('abc')), /says 4 bytes/);
});

test('decodePieceFrame never throws on random bytes', () => {
  checkProperty(import.meta.url, 'random-frames', fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
    const decoded = decodePieceFrame(Buffer.from(bytes));
    if (decoded.ok) assert.is(decoded.bytes.length, decoded.header.sizeBytes);
  }), { numRuns: 2000 });
});

test('decodePieceFrame never throws on a valid prefix with a random header', () => {
  checkProperty(import.meta.url, 'random-headers', fc.property(fc.jsonValue(), fc.uint8Array({ maxLength: 64 }), (value, tail) => {
    const json = Buffer.from(JSON.stringify(value) ?? 'null');
    const frame = Buffer.alloc(4 + json.length);
    frame.writeUInt32BE(json.length, 0);
    json.copy(frame, 4);
    decodePieceFrame(Buffer.concat([frame, Buffer.from(tail)]));
  }), { numRuns: 2000 });
});

test('isTaskId accepts only 64 lowercase hex characters', () => {
  assert.ok(isTaskId(TASK));
  for (const bad of ['', 'AB'.repeat(32), 'ab'.repeat(31), `${'ab'.repeat(32)}0`, '../'.repeat(21) + 'a', 5, null]) {
    assert.not.ok(isTaskId(bad), String(bad));
  }
});

test('taskIdFor hashes the canonical key: same file, same id; digest makes another task', () => {
  const a = taskIdFor({ url: 'http://Example.com:80/f?b=2&a=1' });
  assert.ok(isTaskId(a));
  assert.is(taskIdFor({ url: 'http://example.com/f?a=1&b=2' }), a);
  assert.is.not(taskIdFor({ url: 'http://example.com/f?a=1&b=2', digest: `sha256:${'0'.repeat(64)}` }), a);
  assert.throws(() => taskIdFor({ url: 'ftp://example.com/f' }), /unsupported URL scheme/);
});

test.run();
