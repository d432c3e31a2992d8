import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { downlinkUse } from '../../../bench/calibrate/downlink-use.ts';
import type { HostRow } from '../../../bench/calibrate/compare.ts';

const MiB = 1024 * 1024;
const row = (host: number, simMs: number | null, liveMs: number | null): HostRow => ({
  host, idc: 0, upBytesPerSec: 4e6, downBytesPerSec: 4e6, arrivalMs: 0, simMs, liveMs, errorPercent: null, startupMs: null,
  simUploadedBytes: 0, liveFromPeersBytes: 0, liveFromSupernodeBytes: 0, digestOk: true,
});

test('the file over capacity x time simulated; all of tc\'s bytes and the file alone live', () => {
  // Two hosts, 32 MiB each at goodput 0.95: 2 x 32 MiB / 0.95 wire bytes.
  const fileWire = 2 * 32 * MiB / 0.95;
  const use = downlinkUse([row(0, 10_000, 12_000), row(1, 10_000, 14_000)], 32 * MiB, 0.95, 1.1 * fileWire)!;
  assert.ok(Math.abs(use.simPercent - 100 * fileWire / (4e6 * 20)) < 1e-9);
  assert.ok(Math.abs(use.liveFilePercent - 100 * fileWire / (4e6 * 26)) < 1e-9);
  assert.ok(Math.abs(use.livePercent - 1.1 * use.liveFilePercent) < 1e-9, 'tc\'s extra bytes show beside the file\'s');
});

test('nothing to say without the live bytes or with a host that did not finish', () => {
  assert.is(downlinkUse([row(0, 10_000, 12_000)], MiB, 1, null), null);
  assert.is(downlinkUse([row(0, 10_000, null)], MiB, 1, 5 * MiB), null);
  assert.is(downlinkUse([], MiB, 1, 5 * MiB), null);
});

test.run();
