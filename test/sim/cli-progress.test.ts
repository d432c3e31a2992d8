import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Simulation } from '../../sim/engine.ts';
import { ProgressPrinter } from '../../sim/progress.ts';

/** The fields the printer reads, at a given point of a run. */
function at(nowMs: number, events: number, hostsDone: number): Simulation {
  return { nowMs, events, hostsDone, hostCount: 100 } as unknown as Simulation;
}

function printer(isTTY: boolean) {
  let wallMs = 0;
  const written: string[] = [];
  const p = new ProgressPrinter('dragonfly', { out: { write: (t: string) => written.push(t), isTTY }, clock: () => wallMs });
  return { p, written, setWall: (ms: number) => { wallMs = ms; } };
}

test('progress: nothing for a short run; then, off a terminal, one full line every few seconds', () => {
  const { p, written, setWall } = printer(false);
  for (let ms = 0; ms <= 2900; ms += 100) { setWall(ms); p.update(at(ms, ms * 10, 0)); }
  assert.equal(written, [], 'quiet for the first 3 s');
  setWall(3100);
  p.update(at(5000, 40_000, 12));
  assert.equal(written, ['dragonfly: simulated 5 s, 12/100 hosts done, 40 k events (13 k/s), wall 3.1 s\n']);
  for (let ms = 3200; ms < 8100; ms += 100) { setWall(ms); p.update(at(6000, 50_000, 20)); }
  assert.is(written.length, 1, 'the next line waits 5 s');
  setWall(8100);
  p.update(at(9000, 100_000, 100));
  assert.is(written.length, 2);
  assert.match(written[1], /^dragonfly: simulated 9 s, 100\/100 hosts done, 100 k events \(12 k\/s\), wall 8\.1 s\n$/);
  p.done();
  assert.is(written.length, 2, 'nothing to clear off a terminal');
});

test('progress: on a terminal the status line is rewritten in place and cleared at the end', () => {
  const { p, written, setWall } = printer(true);
  setWall(3000);
  p.update(at(1000, 5000, 1));
  setWall(3300);
  p.update(at(2000, 9000, 2));
  assert.is(written.length, 2);
  for (const line of written) assert.match(line, /^\rdragonfly: simulated .*\x1b\[K$/);
  p.done();
  assert.is(written[2], '\r\x1b[K');
});

test.run();
