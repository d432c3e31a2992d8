/**
 * `npm run calibrate` on the app shape (every process on 127.0.0.1, shaped by its own token
 * buckets), scaled down to 4 hosts and 16 MiB: behaviour only — every host finishes with the
 * origin's bytes, the origin sends one copy, the report carries its fields, nothing is left
 * running, and what a run killed with SIGKILL leaves is cleared by the next one. How close live and simulated times are is a benchmark (the calibrate command), never
 * asserted here.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processesMentioning, startCalibrate, waitForStderr, workDirOf } from '../helpers/calibrate-run.ts';

test('calibrate --shape app --direct --busy-cores 1 runs a scaled-down calibration scenario and reports sim, live and direct-pull figures', async () => {
  const out = mkdtempSync(join(tmpdir(), 'calibrate-app-'));
  try {
    const run = startCalibrate(['--scenario', 'calibration-homogeneous', '--hosts', '4', '--file-size', '8MiB', '--shape', 'app', '--direct', '--busy-cores', '1', '--json', '--out', out]);
    const code = await run.exited;
    assert.is(code, 0, run.stderr());
    const report = JSON.parse(run.stdout());
    assert.is(report.shape, 'app');
    assert.is(report.hosts, 4);
    assert.is(report.busyCores, 1);
    assert.match(run.stderr(), /keeping 1 CPU\(s\) busy until the last host is done/);
    assert.not.ok('busy' in report.machine.processCpuSeconds, 'the spinning process is not counted as the testbed\'s CPU');
    assert.is(report.liveChecks.hostsDone, 4, 'every host finished');
    assert.is(report.liveChecks.digestsOk, 4, 'every output has the origin\'s SHA-256');
    assert.ok(report.liveChecks.originCopies >= 1 && report.liveChecks.originCopies <= 1.05, `origin copies ${report.liveChecks.originCopies}`);
    for (const side of ['sim', 'live']) {
      const { completionMs } = report[side];
      assert.ok(completionMs.p50 > 0 && completionMs.p50 <= completionMs.p95 && completionMs.p95 <= completionMs.max, `${side} percentiles`);
      for (const field of ['originEgressBytes', 'supernodeEgressBytes', 'fromPeersBytes']) assert.type(report[side][field], 'number', `${side}.${field}`);
    }
    for (const field of ['p50', 'p95', 'max']) assert.type(report.errorPercent[field], 'number', `errorPercent.${field}`);
    assert.is(report.perHost.length, 4);
    // The warm uploaders log each served piece (--log-level debug): peer fetches are split by both ends' logs.
    if (report.live.fromPeersBytes > 0) assert.ok(report.uploadSplit?.fetches > 0 && report.uploadSplit.totalMs > 0, JSON.stringify(report.uploadSplit));
    assert.is(report.direct.digestsOk, 4, 'every direct pull got the origin\'s file');
    assert.ok(report.direct.originEgressBytes >= 4 * report.fileSizeBytes, 'direct pulls cost the origin one copy per host');
    assert.ok(report.direct.speedup > 0 && report.direct.liveOverLowerBound > 0, 'speed-up and bound ratio reported');
    assert.match(run.stderr(), /direct pulls: 4\/4 done/);
    assert.match(run.stderr(), /hosts done/, 'progress on stderr');
    for (const file of ['report.md', 'completion-cdf.svg', 'hosts.csv', 'calibration.json', join('logs', 'sn0-supernode.log'), join('logs', 'h0-dfclient.log')]) {
      assert.ok(existsSync(join(out, file)), file);
    }
    assert.is(readFileSync(join(out, 'hosts.csv'), 'utf8').trim().split('\n').length, 1 + 4);
    assert.match(readFileSync(join(out, 'completion-cdf.svg'), 'utf8'), /^<svg/);
    assert.match(readFileSync(join(out, 'report.md'), 'utf8'), /\| p95 completion \|/);
    const workDir = workDirOf(run.stderr());
    assert.not.ok(existsSync(workDir), 'the work dir is removed');
    assert.equal(processesMentioning(workDir), [], 'no process of the run is left');
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('a run killed with SIGKILL leaves processes and files that the next run stops and removes', async () => {
  const out = mkdtempSync(join(tmpdir(), 'calibrate-app-'));
  try {
    const args = ['--scenario', 'calibration-homogeneous', '--hosts', '2', '--file-size', '16MiB', '--shape', 'app', '--out', out];
    const killed = startCalibrate(args);
    await waitForStderr(killed, /t = 0:/, 60_000);
    killed.child.kill('SIGKILL');
    await killed.exited;
    const workDir = workDirOf(killed.stderr());
    assert.ok(processesMentioning(workDir).length > 0, 'the killed run left its supernode and hosts running');
    const next = startCalibrate(args);
    assert.is(await next.exited, 0, next.stderr());
    assert.match(next.stderr(), new RegExp(`removing ${workDir}, left by a run that did not clean up, and stopping its \\d+ process`));
    assert.equal(processesMentioning(workDir), [], 'nothing of the killed run is left');
    assert.not.ok(existsSync(workDir));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('calibrate refuses a scenario with faults, and a bad flag, with a message and status 2', async () => {
  const faulty = startCalibrate(['--scenario', 'faults', '--shape', 'app']);
  assert.is(await faulty.exited, 2);
  assert.match(faulty.stderr(), /fault-free scenarios only/);
  const badShape = startCalibrate(['--scenario', 'calibration-homogeneous', '--shape', 'wires']);
  assert.is(await badShape.exited, 2);
  assert.match(badShape.stderr(), /--shape/);
  const badGso = startCalibrate(['--scenario', 'calibration-homogeneous', '--shape', 'app', '--gso-max-segs', '8']);
  assert.is(await badGso.exited, 2);
  assert.match(badGso.stderr(), /--gso-max-segs needs --shape netns/);
  const badBusy = startCalibrate(['--scenario', 'calibration-homogeneous', '--shape', 'app', '--busy-cores', 'all']);
  assert.is(await badBusy.exited, 2);
  assert.match(badBusy.stderr(), /--busy-cores: expected a whole number/);
  const badSysctl = startCalibrate(['--scenario', 'calibration-homogeneous', '--sysctl', 'net.ipv4.tcp_wmem']);
  assert.is(await badSysctl.exited, 2);
  assert.match(badSysctl.stderr(), /--sysctl: expected key=value/);
});

test.run();
