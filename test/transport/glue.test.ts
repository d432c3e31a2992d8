/**
 * The small pieces of transport glue written once for every process: peer ids, Content-Range
 * parsing, Prometheus text and the token-bucket wait.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TokenBucket } from '../../core/token-bucket.ts';
import { parseContentRange } from '../../transport/http-range.ts';
import { isPeerId, newPeerId } from '../../transport/peer-id.ts';
import { counterTable, renderPrometheus } from '../../transport/prometheus.ts';
import { CancelledError, monotonicNowMs } from '../../transport/real-timer.ts';
import { throttle } from '../../transport/throttle.ts';

test('peer ids made from any hostname pass the supernode\'s rule', () => {
  for (const host of ['node-1.example', 'bad host/with@chars', 'ü'.repeat(300)]) {
    const id = newPeerId('seed-4000', host);
    assert.ok(isPeerId(id), id);
    assert.ok(id.includes('-seed-4000-'), id);
  }
  assert.not.ok(isPeerId('@supernode'), '@ is reserved');
  assert.not.ok(isPeerId(''));
});

test('Content-Range: bytes START-END/TOTAL, an unknown total, and what is not one', () => {
  assert.equal(parseContentRange('bytes 0-9/100'), { startByte: 0, endByte: 10, totalBytes: 100 });
  assert.equal(parseContentRange(' bytes 5-5/* '), { startByte: 5, endByte: 6, totalBytes: null });
  for (const bad of [null, undefined, '', 'bytes */100', 'bytes 9-0/100', 'items 0-1/2', 'bytes 0-1/2, 4-5/6']) {
    assert.is(parseContentRange(bad), null, String(bad));
  }
});

test('Prometheus text: HELP, TYPE and value per metric, in table order', () => {
  const table = counterTable({ b: ['x_b_total', 'Bees.'], a: ['x_a_total', 'Ays.'] });
  assert.is(renderPrometheus(table, { a: 1, b: 2 }),
    '# HELP x_b_total Bees.\n# TYPE x_b_total counter\nx_b_total 2\n# HELP x_a_total Ays.\n# TYPE x_a_total counter\nx_a_total 1\n');
});

test('throttle waits for the slowest bucket and takes from every one; an aborted wait takes nothing', async () => {
  const fast = new TokenBucket(0);
  const slow = new TokenBucket(1_000_000, 10_000);
  const start = monotonicNowMs();
  // Full bucket: 10 kB pass at once; 30 kB wait for a burst's worth (10 ms) and leave 20 kB of
  // debt; the last 10 kB wait out the debt and their own tokens (30 ms).
  for (const bytes of [10_000, 30_000, 10_000]) await throttle([fast, slow], bytes);
  const elapsedMs = monotonicNowMs() - start;
  assert.ok(elapsedMs >= 38, `50 kB through a 1 MB/s bucket with a 10 kB burst took only ${elapsedMs.toFixed(1)} ms`);
  const abort = new AbortController();
  const waiting = throttle([slow], 1_000_000, abort.signal);
  abort.abort();
  await waiting.then(() => assert.unreachable('passed'), (err) => assert.instance(err, CancelledError));
});

test.run();
