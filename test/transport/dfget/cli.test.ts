/**
 * dfget's flag parsing without a process: --timeout reads a bare number as seconds, as Dragonfly's
 * dfget does, and takes units; 0 is no limit.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseTimeoutMs } from '../../../transport/dfget/cli.ts';

test('--timeout: a bare number is seconds, a unit says otherwise, 0 is never', () => {
  assert.is(parseTimeoutMs('90'), 90_000);
  assert.is(parseTimeoutMs(' 1.5 '), 1500);
  assert.is(parseTimeoutMs('0'), 0);
  assert.is(parseTimeoutMs('500ms'), 500);
  assert.is(parseTimeoutMs('10min'), 600_000);
  assert.is(parseTimeoutMs('1h 30min'), 5_400_000);
  assert.throws(() => parseTimeoutMs('soon'));
});

test.run();
