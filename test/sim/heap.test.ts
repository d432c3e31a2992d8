// Every way the simulator is started runs it with the young generation of sim/heap.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { SIM_SEMI_SPACE_FLAG } from '../../sim/heap.ts';

test('bin/dfsim.js passes the flag on its #! line, and runs through it', () => {
  const firstLine = readFileSync('bin/dfsim.js', 'utf8').split('\n')[0];
  assert.is(firstLine, `#!/usr/bin/env -S node ${SIM_SEMI_SPACE_FLAG}`);
  // Executed as a program (as npx runs it): env -S splits the line, node takes the flag.
  const run = spawnSync('bin/dfsim.js', ['run', 'default', '--hosts', '5', '--file-size', '8MiB', '--strategy', 'dragonfly', '--json'], { encoding: 'utf8', timeout: 60_000 });
  assert.is(run.status, 0, run.stderr);
  const [dragonfly] = JSON.parse(run.stdout).strategies;
  assert.is(dragonfly.strategy, 'dragonfly');
  assert.is(dragonfly.completedHosts, 5);
});

test('the npm scripts that simulate pass the flag', () => {
  const scripts = JSON.parse(readFileSync('package.json', 'utf8')).scripts as Record<string, string>;
  for (const name of ['start', 'notebook', 'bench:gap']) assert.ok(scripts[name].startsWith(`node ${SIM_SEMI_SPACE_FLAG} `), `${name}: ${scripts[name]}`);
});

test('a sweep worker gets the same young generation', () => {
  assert.match(readFileSync('sim/sweep.ts', 'utf8'), 'maxYoungGenerationSizeMb: SIM_YOUNG_GENERATION_MB');
});

test.run();
