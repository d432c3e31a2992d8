import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { planPieces } from '../../core/pieces.ts';
import { BufferPool } from '../../transport/buffer-pool.ts';
import { cutIntoPieces, STORE_AHEAD_BYTES } from '../../transport/cdn/piece-cutter.ts';

const PIECE = 1024 * 1024;

/** A body of `pieces` pieces in 64 KiB chunks; counts how many bytes the reader has taken. */
function body(pieces: number) {
  const state = { taken: 0 };
  const reader = {
    async *chunks(): AsyncGenerator<Buffer> {
      for (let at = 0; at < pieces * PIECE; at += 65536) {
        state.taken = at + 65536;
        yield Buffer.alloc(65536, (at / PIECE) & 0xff);
      }
    },
  };
  return { reader, state };
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test('piece cutter: the reader runs ahead of slow stores by up to STORE_AHEAD_BYTES, stores stay in order', async () => {
  const ahead = STORE_AHEAD_BYTES / PIECE;
  const pieces = ahead + 16;
  const { reader, state } = body(pieces);
  const stored: number[] = [];
  const gates: Array<() => void> = [];
  const run = cutIntoPieces(reader, new BufferPool(64 * PIECE, false), {
    plan: planPieces(pieces * PIECE, PIECE), first: 0, end: pieces, wanted: () => true,
    store: (piece, bytes) => new Promise<void>((resolve) => {
      assert.is(bytes[0], piece & 0xff, 'a piece is handed over with its own bytes');
      gates.push(() => { stored.push(piece); resolve(); });
    }),
  });
  for (let i = 0; i < 50; i++) await tick();
  // Nothing stored yet: the reader took the first store's piece plus `ahead` more, and waits.
  assert.is(state.taken, (ahead + 1) * PIECE, `reader stopped after ${state.taken / PIECE} pieces`);
  while (stored.length < pieces) {
    gates.shift()?.();
    await tick();
  }
  assert.is(await run, pieces * PIECE);
  assert.equal(stored, Array.from({ length: pieces }, (_, i) => i));
});

test('piece cutter: a failed store stops the reader and fails the cut', async () => {
  const pieces = 64;
  const { reader, state } = body(pieces);
  let stores = 0;
  const run = cutIntoPieces(reader, new BufferPool(64 * PIECE, false), {
    plan: planPieces(pieces * PIECE, PIECE), first: 0, end: pieces, wanted: () => true,
    store: async (piece) => {
      stores++;
      if (piece === 2) throw new Error('disk full');
    },
  });
  const failure = await run.then(() => null, (err: Error) => err);
  assert.match(failure?.message ?? 'no failure', /disk full/);
  assert.ok(state.taken < pieces * PIECE, 'the reader did not read the whole body');
  assert.is(stores, 3, 'no store after the failed one');
});

test.run();
