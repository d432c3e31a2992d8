import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BufferPool } from '../../../transport/supernode/buffer-pool.ts';

const MiB = 1024 * 1024;

test('buffers are rounded up to whole MiB and reused after release', () => {
  const pool = new BufferPool(8 * MiB);
  const first = pool.acquire(4 * MiB + 100);
  assert.is(first.length, 5 * MiB);
  pool.release(first);
  assert.is(pool.retained, 5 * MiB);
  assert.is(pool.acquire(4 * MiB + 1), first, 'the same memory comes back');
  assert.is(pool.retained, 0);
  assert.is(pool.acquire(10).length, MiB, 'small requests get one MiB');
});

test('sizes do not mix, and nothing past the retention limit is kept', () => {
  const pool = new BufferPool(6 * MiB);
  const four = pool.acquire(4 * MiB);
  const twoA = pool.acquire(2 * MiB);
  const twoB = pool.acquire(2 * MiB);
  pool.release(four);
  pool.release(twoA);
  pool.release(twoB);
  assert.is(pool.retained, 6 * MiB, 'the last release would pass the limit and is dropped');
  assert.is.not(pool.acquire(3 * MiB), four, 'a 3 MiB request does not take the 4 MiB buffer');
  assert.is(pool.acquire(2 * MiB), twoA);
});

test.run();
