/**
 * A bare `--help`/`-h` prints the help `npm run build` wrote to dist/help (bin/built.js), and
 * that text is what commander prints for the same command: the same bytes as `--help` after
 * another flag (which goes through commander), and as helpTextOf on the source definitions.
 * Needs the build (`npm run test:unit` runs it first).
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Command } from 'commander';
import { helpTextOf } from '../../transport/cli-help.ts';
import { buildProgram as buildDfdaemon } from '../../transport/dfdaemon/cli.ts';
import { buildProgram as buildDfget } from '../../transport/dfget/cli.ts';
import { buildCommand as buildSupernode } from '../../transport/supernode/options.ts';
import { REPO_ROOT } from '../../bench/testbed/processes.ts';

function run(bin: string, args: string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(REPO_ROOT, 'bin', `${bin}.js`), ...args], { cwd: REPO_ROOT }, (err, stdout) => {
      resolve({ code: err ? (err as { code?: number }).code ?? 1 : 0, stdout });
    });
  });
}

// [command, its definition, a flag commander parses before it meets --help]
const COMMANDS: ReadonlyArray<readonly [string, () => Command, string[]]> = [
  ['dfget', buildDfget, ['--output', 'x']],
  ['supernode', buildSupernode, ['--port', '1']],
  ['dfdaemon', buildDfdaemon, ['--port', '1']],
];

for (const [name, build, before] of COMMANDS) {
  test(`${name} --help and -h print the built help, which is commander's own`, async () => {
    const built = readFileSync(join(REPO_ROOT, 'dist', 'help', `${name}.txt`), 'utf8');
    assert.is(built, helpTextOf(build()), `dist/help/${name}.txt is stale: run npm run build`);
    const viaCommander = await run(name, [...before, '--help']);
    assert.is(viaCommander.code, 0);
    for (const flag of ['--help', '-h']) {
      const fast = await run(name, [flag]);
      assert.is(fast.code, 0);
      assert.is(fast.stdout, viaCommander.stdout, `${name} ${flag}`);
    }
  });
}

test('dfget --help lists its options', async () => {
  const { stdout } = await run('dfget', ['--help']);
  for (const wanted of ['-u, --url <url>', '-o, --output <path>', '--node <host:port,...>', '--locallimit <rate>', 'Exit codes:']) {
    assert.ok(stdout.includes(wanted), `--help lists ${wanted}`);
  }
});

test.run();
