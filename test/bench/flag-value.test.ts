import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { wholeNumberAtLeast } from '../../bench/flag-value.ts';

test('wholeNumberAtLeast takes whole numbers from the minimum up and names what it got otherwise', () => {
  assert.is(wholeNumberAtLeast('3', 1), 3);
  assert.is(wholeNumberAtLeast('1', 1), 1);
  for (const bad of ['0', '2.5', 'x', '', '-1']) assert.throws(() => wholeNumberAtLeast(bad, 1), new RegExp(`got "${bad}"`));
});

test('a benchmark refuses a malformed flag at once: exit 2, the benchmark and the flag named', () => {
  for (const [args, line] of [
    [['bench/transport.ts', '--cases', 'swarm', '--cap', '0'], /^bench:transport: --cap: expected a rate above 0/],
    [['bench/transport.ts', '--cases', 'shaped', '--shaped-file-size', '12zz'], /^bench:transport: --shaped-file-size: invalid size "12zz"/],
    [['bench/slow-rescue.ts', '--piece', '3Q'], /^bench:rescue: --piece: invalid size "3Q"/],
  ] as const) {
    const run = spawnSync(process.execPath, ['--import', 'tsx', ...args], { encoding: 'utf8', timeout: 60_000 });
    assert.is(run.status, 2, `${args.join(' ')}: ${run.stderr}`);
    assert.match(run.stderr.trim(), line);
  }
});

test.run();
