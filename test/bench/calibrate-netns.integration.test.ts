/**
 * `npm run calibrate --shape netns` leaves nothing behind: after a run, and after a run stopped
 * with SIGINT, no namespace, link, qdisc or process of it remains (`ip netns list`, the root
 * namespace's links and qdiscs are as before), and namespaces of a testbed that died without
 * cleaning up are removed by the next run. Skipped, with the reason, without root or `ip netns`.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../bench/calibrate/commands.ts';
import { netnsUnavailableReason, NETNS_PREFIX } from '../../bench/calibrate/netns.ts';
import { processesMentioning, startCalibrate, waitForStderr, workDirOf, type CalibrateRun } from '../helpers/calibrate-run.ts';

const unavailable = await netnsUnavailableReason();

interface RootState { namespaces: string; links: string; qdiscs: string }

async function rootState(): Promise<RootState> {
  return {
    namespaces: await run(['ip', 'netns', 'list']),
    // Link names and qdiscs only: counters and flags change on their own.
    links: (await run(['ip', '-o', 'link', 'show'])).split('\n').map((line) => line.split(':')[1]?.trim() ?? '').sort().join(' '),
    qdiscs: (await run(['tc', 'qdisc', 'show'])).split('\n').map((line) => line.replace(/refcnt \d+/, '')).sort().join('\n'),
  };
}

/** The pid of a process that has exited: what a stale testbed's namespace names. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => child.on('exit', resolve));
  return child.pid!;
}

async function assertNothingLeft(calibrate: CalibrateRun, before: RootState): Promise<void> {
  const after = await rootState();
  assert.is(after.namespaces, before.namespaces, 'ip netns list is as before');
  assert.is(after.links, before.links, 'the root namespace has the same links');
  assert.is(after.qdiscs, before.qdiscs, 'the root namespace has the same qdiscs');
  assert.not.match(after.namespaces, new RegExp(NETNS_PREFIX), 'no testbed namespace');
  assert.equal(processesMentioning(workDirOf(calibrate.stderr())), [], 'no process of the run is left');
}

if (unavailable) {
  test('calibrate --shape netns (skipped)', () => console.log(`calibrate netns tests skipped: ${unavailable}`));
} else {
  test('a netns run finishes, removes a dead testbed\'s namespace first, and leaves nothing behind', async () => {
    const before = await rootState();
    const stale = `${NETNS_PREFIX}${await deadPid()}-h0`;
    await run(['ip', 'netns', 'add', stale]);
    const out = mkdtempSync(join(tmpdir(), 'calibrate-netns-'));
    try {
      const calibrate = startCalibrate(['--scenario', 'calibration-two-idc', '--hosts', '2', '--file-size', '8MiB', '--shape', 'netns', '--gso-max-segs', '8',
        '--queues', 'host-small-first', '--json', '--out', out]);
      assert.is(await calibrate.exited, 0, calibrate.stderr());
      const report = JSON.parse(calibrate.stdout());
      assert.is(report.shape, 'netns');
      assert.is(report.gsoMaxSegs, 8);
      assert.is(report.queues, 'host-small-first');
      // The hosts' download queues (FIFOs here, their uplinks small-first) sent the file's bytes (tc's counters).
      const downlinks = report.downlinkUse as { simPercent: number; livePercent: number; liveFilePercent: number };
      assert.ok(downlinks.liveFilePercent > 0 && downlinks.livePercent >= 0.9 * downlinks.liveFilePercent && downlinks.livePercent < 110, JSON.stringify(downlinks));
      assert.ok(downlinks.simPercent > 0 && downlinks.simPercent <= 100, JSON.stringify(downlinks));
      // TCP counters of the run itself: the origin sent the 8 MiB file once (at least a segment per 64 KiB).
      const tcp = report.tcp as { role: string; nodes: number; segmentsSent: number }[];
      assert.equal(tcp.map((r) => [r.role, r.nodes]), [['origin', 1], ['sn0', 1], ['hosts', 2]], JSON.stringify(tcp));
      assert.ok(tcp[0].segmentsSent >= 8 * 16, JSON.stringify(tcp));
      assert.ok(tcp[2].segmentsSent > 0, JSON.stringify(tcp));
      assert.is(report.liveChecks.hostsDone, 2);
      assert.is(report.liveChecks.digestsOk, 2);
      // Every piece (2 hosts x 2 pieces of 4 MiB) is in the piece-times table once; h1 sits in IDC 1, all its sources in IDC 0.
      const rows = report.pieceTimes as { path: string; connection: string; pieces: number; meanMs: number }[];
      assert.is(rows.reduce((sum, r) => sum + r.pieces, 0), 4, JSON.stringify(rows));
      assert.ok(rows.some((r) => r.path === 'across IDCs' && r.connection === 'new' && r.meanMs > 0), JSON.stringify(rows));
      assert.match(calibrate.stderr(), new RegExp(`removing 1 network namespace.*${stale}`));
      await assertNothingLeft(calibrate, before);
    } finally {
      await run(['ip', 'netns', 'del', stale]).catch(() => {});
      rmSync(out, { recursive: true, force: true });
    }
  });

  test('a netns run stopped with SIGINT mid-download removes everything and exits non-zero', async () => {
    const before = await rootState();
    const out = mkdtempSync(join(tmpdir(), 'calibrate-netns-'));
    try {
      const calibrate = startCalibrate(['--scenario', 'calibration-homogeneous', '--hosts', '2', '--file-size', '24MiB', '--shape', 'netns', '--out', out]);
      await waitForStderr(calibrate, /t = 0:/, 120_000);
      await new Promise((r) => setTimeout(r, 1000));
      calibrate.child.kill('SIGINT');
      assert.is(await calibrate.exited, 3, calibrate.stderr());
      assert.match(calibrate.stderr(), /SIGINT: stopping the run/);
      await assertNothingLeft(calibrate, before);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
}

test.run();
