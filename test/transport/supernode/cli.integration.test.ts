/**
 * The supernode's command line as an operator meets it: a setting the protocol cannot carry is
 * refused before anything starts (exit 2, naming the flag), and a home directory that cannot be
 * created is a clear error at once (exit 1) — never a silent process spinning at 100 % CPU.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { REPO_ROOT } from '../../../bench/testbed/processes.ts';

interface Run { code: number | null; signal: string | null; stderr: string; elapsedMs: number }

/** The supernode with `args`, killed after `timeoutMs` (a hang shows as signal SIGKILL). */
function supernode(args: string[], timeoutMs = 20_000): Promise<Run> {
  const startedMs = performance.now();
  return new Promise((resolve) => {
    execFile(process.execPath, [join(REPO_ROOT, 'bin', 'supernode.js'), '--port', '0', ...args],
      { cwd: REPO_ROOT, timeout: timeoutMs, killSignal: 'SIGKILL' }, (err, _stdout, stderr) => {
        const e = err as (Error & { code?: number; signal?: string }) | null;
        resolve({
          code: e ? (typeof e.code === 'number' ? e.code : null) : 0, signal: e?.signal ?? null, stderr,
          elapsedMs: performance.now() - startedMs,
        });
      });
  });
}

for (const size of ['1GiB', '1TiB', '17MiB']) {
  test(`--piece-size-bytes ${size} is over the protocol's 16 MiB frame: exit 2 naming the flag`, async () => {
    const run = await supernode(['--piece-size-bytes', size, '--home', '/nonexistent-never-created']);
    assert.is(run.signal, null, 'it exits by itself');
    assert.is(run.code, 2, run.stderr);
    assert.match(run.stderr, '--piece-size-bytes');
    assert.match(run.stderr, 'must be at most 16777216');
  });
}

test('--home under /proc cannot be created: a clear error and a non-zero exit at once, no spin', async () => {
  const run = await supernode(['--home', '/proc/forbidden'], 15_000);
  assert.is(run.signal, null, `the supernode did not exit by itself within 15 s (it hung): ${run.stderr}`);
  assert.ok(run.code !== 0 && run.code !== null, `exit code ${run.code}`);
  assert.match(run.stderr, 'cannot create the home directory /proc/forbidden');
  assert.match(run.stderr, '--home');
  assert.ok(run.elapsedMs < 10_000, `took ${run.elapsedMs.toFixed(0)} ms`);
});

test.run();
