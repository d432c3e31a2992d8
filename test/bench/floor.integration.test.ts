/**
 * `npm run bench:floor`, scaled down (8 MiB, one round, a 2-host swarm): behaviour only — every
 * measurement and floor lands in floor.csv as a positive number, and bad flags exit 2 with a
 * message. What the figures are is the benchmark's business, never asserted here.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../../bench/testbed/processes.ts';

function floor(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'bench', 'floor.ts'), ...args], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 120_000 });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

test('bench:floor measures every operation and writes every floor to floor.csv', () => {
  const out = mkdtempSync(join(tmpdir(), 'bench-floor-'));
  try {
    const run = floor(['--bytes', '8MiB', '--rounds', '1', '--hosts', '2', '--swarm-file', '8MiB', '--out', out]);
    assert.is(run.status, 0, run.stderr);
    const lines = readFileSync(join(out, 'floor.csv'), 'utf8').trim().split('\n');
    assert.is(lines[0], 'id,value,item,note');
    const values = new Map(lines.slice(1).map((line) => {
      const [id, value] = line.split(',');
      return [id, Number(value)] as const;
    }));
    for (const id of ['write', 'swarmWrite', 'sha256', 'tcpRecv', 'tcpSend', 'start', 'floorCold', 'floorWarm', 'floorSwarmSeconds']) {
      const value = values.get(id);
      assert.ok(value !== undefined && Number.isFinite(value) && value > 0, `${id}: ${value}`);
    }
    assert.ok(values.get('floorCold')! > values.get('floorWarm')!, 'a cold download does the warm one\'s work and the CDN\'s');
    assert.match(run.stdout, /direct pulls at the cap 0\.3 s/, '2 x 8 MiB at 50 MB/s');
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('bench:floor refuses a bad flag with exit code 2 and says which', () => {
  for (const [args, flag] of [[['--rounds', '0'], /--rounds/], [['--bytes', 'abc'], /--bytes: /], [['--cap', 'fast'], /--cap: /]] as const) {
    const run = floor([...args]);
    assert.is(run.status, 2, `${args.join(' ')}: ${run.stderr}`);
    assert.match(run.stderr, flag);
    assert.not.match(run.stderr, /\n\s+at /, 'a message, not a stack trace');
  }
});

test.run();
