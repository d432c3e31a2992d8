import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runQueueWaitMsOf } from '../../../bench/calibrate/counters.ts';

test('runQueueWaitMsOf reads the second field of schedstat, in ms', () => {
  assert.is(runQueueWaitMsOf('x', () => '1204331052 3443000000 8811\n'), 3443);
  assert.is(runQueueWaitMsOf('x', () => { throw new Error('ENOENT'); }), null, 'a process that is gone');
  assert.is(runQueueWaitMsOf('x', () => 'garbage'), null);
});

test('runQueueWaitMsOf reads this process\'s own counter on Linux', () => {
  const waitMs = runQueueWaitMsOf('/proc/self/schedstat', (path) => readFileSync(path, 'utf8'));
  if (process.platform === 'linux') assert.ok(waitMs !== null && waitMs >= 0, String(waitMs));
});

test.run();
