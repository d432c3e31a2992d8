import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function dfsim(...args: string[]) {
  return spawnSync(process.execPath, ['bin/dfsim.js', ...args], { encoding: 'utf8', timeout: 60_000 });
}

test('run --json prints one object with the documented fields per strategy, and --out writes the report files', () => {
  const out = mkdtempSync(join(tmpdir(), 'dfsim-'));
  try {
    const r = dfsim('run', 'default', '--hosts', '12', '--file-size', '48MiB', '--seed', '3', '--json', '--out', out);
    assert.is(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.is(report.seed, '3');
    assert.equal(report.strategies.map((s: { strategy: string }) => s.strategy), ['registry', 'cdn-only', 'dragonfly', 'bittorrent']);
    for (const s of report.strategies) {
      for (const field of ['strategy', 'hosts', 'fileSizeBytes', 'originEgressBytes', 'supernodeEgressBytes', 'lowerBoundMs', 'efficiency']) {
        assert.ok(field in s, `missing ${field}`);
      }
      assert.ok(s.completionMs.p50 <= s.completionMs.p95 && s.completionMs.p95 <= s.completionMs.max);
      assert.is(s.hosts, 12);
      assert.is(s.fileSizeBytes, 48 * 1024 * 1024);
    }
    assert.match(r.stderr, /seed 3/);
    for (const file of ['summary.json', 'hosts.csv', 'timeseries.csv', 'completion-cdf.svg', 'origin-egress.svg']) {
      assert.ok(existsSync(join(out, file)), file);
    }
    assert.is(readFileSync(join(out, 'hosts.csv'), 'utf8').trim().split('\n').length, 1 + 4 * 12);
    assert.match(readFileSync(join(out, 'completion-cdf.svg'), 'utf8'), /^<svg/);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('a bad flag or scenario field says which and exits non-zero; bound prints T_min', () => {
  const bad = dfsim('run', 'default', '--host-up', 'fast');
  assert.is(bad.status, 2);
  assert.match(bad.stderr, /--host-up: .*"fast"/);
  const unknown = dfsim('run', 'default', '--strategy', 'gossip');
  assert.match(unknown.stderr, /unknown strategy "gossip"/);
  const bound = dfsim('bound', 'default');
  assert.is(bound.status, 0);
  assert.match(bound.stdout, /T_min = 8\.590 s/);
});

test('impossible settings are refused with exit 2 and the flag named, from flags, scenario files and sweep grids', () => {
  const flag = dfsim('run', 'default', '--piece-size-bytes', '3');
  assert.is(flag.status, 2);
  assert.match(flag.stderr, /--piece-size-bytes: must be 0 \(the seed's rule\) or at least 65536 bytes/);
  assert.is(flag.stdout, '');
  const zero = dfsim('run', 'default', '--peer-up-limit', '0', '--strategy', 'dragonfly');
  assert.is(zero.status, 2);
  assert.match(zero.stderr, /--peer-up-limit: must be at least 1/);
  const dir = mkdtempSync(join(tmpdir(), 'dfsim-bad-'));
  try {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'fileSize: 1GiB\nhosts: { count: 3 }\ncore: { pieceSizeBytes: 3 }\n');
    const scenario = dfsim('run', file);
    assert.is(scenario.status, 2);
    assert.match(scenario.stderr, /core\.pieceSizeBytes: must be 0/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const grid = dfsim('sweep', 'default', '--grid', 'pieceSizeBytes=2MiB,3');
  assert.is(grid.status, 2);
  assert.match(grid.stderr, /--grid \{"pieceSizeBytes":"3"\}: .*must be 0/);
  const limit = dfsim('run', 'default', '--time-limit', 'soon');
  assert.is(limit.status, 2);
  assert.match(limit.stderr, /--time-limit: invalid duration "soon"/);
});

test('a run that reaches --time-limit stops, says so naming the flag, and counts the bytes sent so far', () => {
  const r = dfsim('run', 'default', '--hosts', '40', '--file-size', '64MiB', '--strategy', 'registry', '--time-limit', '2s', '--json');
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stderr, /registry stopped at the simulated-time limit of 2 s \(--time-limit\) with 40 of 40 hosts unfinished/);
  const [registry] = JSON.parse(r.stdout).strategies;
  assert.is(registry.stoppedAtLimitMs, 2000);
  // The origin (1 Gbit/s) sent for 2 s, less the request round trip.
  assert.ok(registry.originEgressBytes > 0.99 * 2 * 125e6 && registry.originEgressBytes <= 2 * 125e6, String(registry.originEgressBytes));
  assert.not.match(r.stderr, /CHECK FAILED/);
});

test('sweep runs every grid point on worker threads and writes the CSV and heatmap', () => {
  const out = mkdtempSync(join(tmpdir(), 'dfsim-sweep-'));
  try {
    const r = dfsim('sweep', 'default', '--hosts', '8', '--file-size', '16MiB', '--grid', 'piecesPerPull=2,4', 'peerUpLimit=3,5', '--workers', '2', '--out', out);
    assert.is(r.status, 0, r.stderr);
    assert.match(r.stdout, /^best of 4: /);
    const rows = readFileSync(join(out, 'sweep.csv'), 'utf8').trim().split('\n');
    assert.is(rows.length, 5);
    assert.match(rows[0], /^piecesPerPull,peerUpLimit,efficiency,/);
    assert.match(readFileSync(join(out, 'heatmap.svg'), 'utf8'), /^<svg/);
    const bad = dfsim('sweep', 'default', '--grid', 'piecesPerPul=2');
    assert.match(bad.stderr, /unknown core setting "piecesPerPul"/);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('the CLI knows the same strategies as the simulator', async () => {
  const { STRATEGIES } = await import('../../sim/strategies/index.ts');
  const { STRATEGY_NAMES } = await import('../../sim/strategy-names.ts');
  assert.equal(STRATEGY_NAMES, [...STRATEGIES]);
});

test.run();
