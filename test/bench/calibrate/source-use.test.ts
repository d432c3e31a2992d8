import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { calibrationScenario, planTestbed } from '../../../bench/calibrate/plan.ts';
import { liveSourceUse } from '../../../bench/calibrate/source-use.ts';

const at = (ms: number): string => new Date(Date.UTC(2026, 0, 1) + ms).toISOString();
const fetchLine = (ms: number, piece: number, address: string): string => `${at(ms)} info dfget[1] fetching piece ${piece} from x at ${address}:4000 (1 in flight)`;
const gotLine = (ms: number, piece: number): string => `${at(ms)} info dfget[1] piece ${piece} received from x (y)`;

test('liveSourceUse: the share of the run each kind of source had a fetch outstanding, and what it delivered', () => {
  const plan = planTestbed(calibrationScenario('calibration-homogeneous', { hosts: '2', fileSize: '4MiB' }, { pieceSizeBytes: '1MiB' }), false);
  const [h0, h1] = plan.hosts;
  const sn = plan.supernodes[0];
  const logs = mkdtempSync(join(tmpdir(), 'source-use-'));
  try {
    // Over 0..1000 ms: h0 fetches two pieces from the supernode back to back (busy 0..800), and one
    // from h1 (busy 200..400, overlapping the supernode's); h1 fetches two from h0 at the same time (busy 500..1000).
    writeFileSync(join(logs, `${h0.name}-dfclient.log`), [
      fetchLine(0, 0, sn.address), gotLine(400, 0), fetchLine(400, 1, sn.address), gotLine(800, 1),
      fetchLine(200, 2, h1.address), gotLine(400, 2),
    ].sort().join('\n'));
    writeFileSync(join(logs, `${h1.name}-dfclient.log`), [
      fetchLine(500, 0, h0.address), fetchLine(500, 1, h0.address), gotLine(900, 0), gotLine(1000, 1),
    ].join('\n'));
    const rows = liveSourceUse(plan, logs);
    assert.is(rows.length, 2);
    const [snRow, hostRow] = rows;
    assert.is(snRow.role, 'supernode');
    assert.is(snRow.sources, 1);
    assert.ok(Math.abs(snRow.busyPercent - 80) < 1e-9, String(snRow.busyPercent));
    assert.ok(Math.abs(snRow.deliveredBytesPerSec - 2 * 1024 * 1024) < 1e-6, 'two 1 MiB pieces in 1 s');
    assert.is(hostRow.role, 'host uploaders');
    assert.is(hostRow.sources, 2);
    // h0 served 500..1000 (50 %), h1 served 200..400 (20 %): 35 % on average; 3 MiB / 2 sources / 1 s.
    assert.ok(Math.abs(hostRow.busyPercent - 35) < 1e-9, String(hostRow.busyPercent));
    assert.ok(Math.abs(hostRow.deliveredBytesPerSec - 1.5 * 1024 * 1024) < 1e-6);
    assert.ok(Math.abs(hostRow.linkBytesPerSec - h0.upBytesPerSec * plan.scenario.goodput) < 1e-6);
  } finally {
    rmSync(logs, { recursive: true, force: true });
  }
});

test('liveSourceUse: nothing on the app shape, where every node shares 127.0.0.1', () => {
  const plan = planTestbed(calibrationScenario('calibration-homogeneous', { hosts: '2' }, {}), true);
  assert.equal(liveSourceUse(plan, '/nonexistent'), []);
});

test.run();
