import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
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

test.run();
