import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { calibrationScenario, planTestbed } from '../../../bench/calibrate/plan.ts';
import { unionMs } from '../../../bench/calibrate/timeline.ts';
import { liveUploadSplit } from '../../../bench/calibrate/upload-split.ts';

const at = (ms: number): string => new Date(Date.UTC(2026, 0, 1) + ms).toISOString();
const serving = (ms: number, addr: string): string => `${at(ms)} info uploader[7] uploader pid 7 serving ${addr}; until a supernode's settings arrive, ...`;
const served = (ms: number, piece: number, read: number, tokens: number, kernel: number): string =>
  `${at(ms)} debug uploader[7] served piece ${piece} of 0123456789ab to data-1: read ${read} ms, tokens ${tokens} ms, to the kernel ${kernel} ms`;
const fetching = (ms: number, piece: number, addr: string): string => `${at(ms)} info dfget[8] fetching piece ${piece} from vm-1 at ${addr} (1 in flight)`;
const received = (ms: number, piece: number): string => `${at(ms)} info dfget[8] piece ${piece} received from vm-1 (x)`;

test('unionMs adds up overlapping and separate intervals once', () => {
  assert.is(unionMs([[0, 10], [5, 20], [30, 40]]), 30);
  assert.is(unionMs([[30, 40], [0, 10]]), 20);
  assert.is(unionMs([]), 0);
});

test('liveUploadSplit joins a requester\'s fetch to its uploader\'s line and splits its time', () => {
  const plan = planTestbed(calibrationScenario('calibration-homogeneous', { hosts: '2' }, {}), true);
  const [h0, h1] = plan.hosts;
  const logs = mkdtempSync(join(tmpdir(), 'upload-split-'));
  try {
    // h1's uploader at 127.0.0.1:5001 serves piece 3 to h0: request at 100, serving 110..150
    // (read 5, tokens 15, kernel 20; its line at the hand-off, 150), received at 400. A second
    // fetch of piece 4 from the supernode's address has no uploader line and is not split.
    writeFileSync(join(logs, `${h1.name}-dfclient.log`), [serving(0, '127.0.0.1:5001'), served(150, 3, 5, 15, 20)].join('\n'));
    writeFileSync(join(logs, `${h0.name}-dfclient.log`), [
      fetching(100, 3, '127.0.0.1:5001'), fetching(100, 4, '127.0.0.1:8002'), received(400, 3), received(500, 4),
    ].join('\n'));
    const split = liveUploadSplit(plan, logs);
    assert.ok(split, 'a split');
    assert.is(split!.fetches, 1);
    assert.is(split!.beforeServingMs, 10);
    assert.is(split!.readMs, 5);
    assert.is(split!.tokensMs, 15);
    assert.is(split!.toKernelMs, 20);
    assert.is(split!.afterHandOffMs, 250);
    assert.is(split!.totalMs, 300);
    // Bytes in flight from 130 (the hand-off began) to 400, over the run 100..500.
    assert.is(split!.bytesInFlightPercent, 100 * 270 / 400);
  } finally {
    rmSync(logs, { recursive: true, force: true });
  }
});

test('liveUploadSplit: null without uploader debug lines', () => {
  const plan = planTestbed(calibrationScenario('calibration-homogeneous', { hosts: '2' }, {}), true);
  assert.is(liveUploadSplit(plan, '/nonexistent'), null);
});

test.run();
