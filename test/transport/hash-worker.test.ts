/**
 * Piece digests (hash-worker.ts): pieces up to INLINE_HASH_MAX_BYTES are hashed on the event loop,
 * larger ones in shared memory by the worker; both give the digest of the bytes, and a whole-file
 * RunningHash fed in parts gives the digest of the whole.
 */
import { createHash, randomFillSync } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { INLINE_HASH_MAX_BYTES, RunningHash, sha256Of } from '../../transport/hash-worker.ts';

function sharedRandom(sizeBytes: number): Buffer {
  const bytes = Buffer.from(new SharedArrayBuffer(sizeBytes));
  randomFillSync(bytes);
  return bytes;
}

const expected = (bytes: Uint8Array): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

test('a piece at, under and over the inline limit, shared or not, gets the SHA-256 of its bytes', async () => {
  for (const sizeBytes of [0, 1, 512 * 1024, INLINE_HASH_MAX_BYTES, INLINE_HASH_MAX_BYTES + 1, 3 * INLINE_HASH_MAX_BYTES]) {
    const shared = sharedRandom(sizeBytes);
    assert.is(await sha256Of(shared), expected(shared), `shared, ${sizeBytes} bytes`);
    const plain = Buffer.from(shared);
    assert.is(await sha256Of(plain), expected(plain), `not shared, ${sizeBytes} bytes`);
    // A view into the middle of a shared buffer hashes only its own bytes.
    if (sizeBytes > 2) assert.is(await sha256Of(shared.subarray(1, sizeBytes - 1)), expected(shared.subarray(1, sizeBytes - 1)));
  }
});

test('pieces hashed at once, inline and on the worker, each get their own digest', async () => {
  const pieces = [sharedRandom(4 * INLINE_HASH_MAX_BYTES), sharedRandom(1000), sharedRandom(2 * INLINE_HASH_MAX_BYTES), sharedRandom(INLINE_HASH_MAX_BYTES)];
  assert.equal(await Promise.all(pieces.map((p) => sha256Of(p))), pieces.map(expected));
});

test('a running hash on the worker, fed in parts, is the digest of the whole', async () => {
  const whole = sharedRandom(3 * INLINE_HASH_MAX_BYTES + 17);
  const hash = new RunningHash('sha256');
  for (let at = 0; at < whole.length; at += INLINE_HASH_MAX_BYTES) await hash.update(whole.subarray(at, Math.min(whole.length, at + INLINE_HASH_MAX_BYTES)));
  assert.is(`sha256:${await hash.hex()}`, expected(whole));
});

test.run();
