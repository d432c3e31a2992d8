/**
 * Build step (`npm run build`, after tsc): write dist/help/<command>.txt, the help text commander
 * prints for each command, from the same definitions the commands parse their flags with. The
 * bins print it for a bare `--help`/`-h` without loading commander or the program (cli-help.ts).
 *
 *   node dist/transport/write-help.js
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { helpTextOf } from './cli-help.ts';
import { buildProgram as buildDfdaemon } from './dfdaemon/cli.ts';
import { buildProgram as buildDfget } from './dfget/cli.ts';
import { buildCommand as buildSupernode } from './supernode/options.ts';

const HELP_COMMANDS: ReadonlyArray<readonly [name: string, build: () => Command]> = [
  ['dfget', buildDfget],
  ['supernode', buildSupernode],
  ['dfdaemon', buildDfdaemon],
];

const dir = new URL('../help/', import.meta.url);
mkdirSync(dir, { recursive: true });
for (const [name, build] of HELP_COMMANDS) writeFileSync(new URL(`${name}.txt`, dir), helpTextOf(build()));
