import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { blankNonCode, checkPurity } from '../helpers/purity.ts';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const coreDir = join(repoRoot, 'core');

function tsFilesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return tsFilesUnder(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

test('every core/ source file is pure', () => {
  const files = tsFilesUnder(coreDir);
  assert.ok(files.length >= 10, `found only ${files.length} files under ${coreDir}`);
  const violations = files.flatMap((path) => checkPurity(readFileSync(path, 'utf8'), relative(repoRoot, path)));
  const listing = violations.map((v) => `  ${v.file}:${v.line}  ${v.rule}  |  ${v.text}`).join('\n');
  assert.is(violations.length, 0, `core/ must stay pure; move these to a driver or pass them in:\n${listing}`);
});

test('core/index.ts re-exports every core module, and loads', async () => {
  const index = readFileSync(join(coreDir, 'index.ts'), 'utf8');
  const modules = readdirSync(coreDir).filter((name) => name.endsWith('.ts') && name !== 'index.ts');
  const missing = modules.filter((name) => !index.includes(`export * from './${name}';`));
  assert.equal(missing, [], `add to core/index.ts: ${missing.map((name) => `export * from './${name}';`).join(' ')}`);
  const api = await import('../../core/index.ts');
  for (const name of ['Supernode', 'Peer', 'Uploader', 'TokenBucket', 'parseBytes', 'taskKey', 'decodePeerToSupernode', 'applyAndDrain']) {
    assert.type((api as Record<string, unknown>)[name], 'function', name);
  }
});

const rulesOf = (source: string) => checkPurity(source).map((v) => `${v.line}:${v.rule.split(' ')[0]}`);

test('checker: each banned construct is found, on its line', () => {
  const cases: [string, string[]][] = [
    ["import { readFileSync } from 'node:fs';", ['1:node:']],
    ["import fs from 'fs';", ['1:non-relative', '1:fs']],
    ["import {\n  WebSocket,\n} from 'ws';", ['3:non-relative']],
    ["import type { Rng } from 'seedrandom';", ['1:non-relative']],
    ["export * from 'yaml';", ['1:non-relative']],
    ["import 'reflect-metadata';", ['1:non-relative']],
    ["const m = await import('./x.ts');", ['1:await', '1:dynamic']],
    ["const x = require('./x');", ['1:require(']],
    ['const t = Date.now();', ['1:Date']],
    ['const t = performance.now();', ['1:performance']],
    ['const r = Math.random();', ['1:Math.random']],
    ['const r = Math . random();', ['1:Math.random']],
    ['setTimeout(f, 1);\nsetInterval(f, 1);\nsetImmediate(f);\nqueueMicrotask(f);', ['1:timer', '2:timer', '3:timer', '4:timer']],
    ['if (process.env.X) {}', ['1:process']],
    ['async function f() {}', ['1:async']],
    ['const p: Promise<void> = x;', ['1:Promise']],
    ['const g = globalThis;', ['1:globalThis']],
    ['fetch (url);', ['1:fetch(']],
    ['const s = `at ${Date.now()} ms`;', ['1:Date']],
    ['const s = `a ${`b ${process.pid}`} c`;', ['1:process']],
    ["const u = 'http://x'; Date.now();", ['1:Date']],
    ["// don't stop\nDate.now();", ['2:Date']],
    ['const q = a / b / 2; const d = Date;', ['1:Date']],
    ['const r = /[/]"/; const d = Date;', ['1:Date']],
    ['/* a\n * b */ Promise.resolve();', ['2:Promise']],
  ];
  for (const [source, expected] of cases) assert.equal(rulesOf(source), expected, source);
});

test('checker: words in comments, strings, templates and regexes, and relative imports, are clean', () => {
  const clean = [
    "import { Bitset } from './bitset.ts';",
    "import type { Rng } from '../core/rng.ts';",
    "export { taskKey } from './task-key.ts';",
    '// Date, performance, Math.random, setTimeout, process, async, await, Promise, fs, globalThis, fetch(',
    '/** time is an argument, never Date.now(); no Promise here */',
    "const message = 'cannot process: Date unknown, await the Promise, fetch( it';",
    'const message = "fs is not for core";',
    'const message = `process ${count} pieces, await more`;',
    'const pattern = /Date|Promise|process/g;',
    'const ok = x.test(s) ? /a\\/b/ : /[a/]/;',
    'const taskDate = updateDate + processed + fsync;',
    'const ratio = total / count; // a division, then a comment with async',
  ];
  for (const source of clean) assert.equal(checkPurity(source), [], source);
});

test('checker: blanking keeps every line and column in place', () => {
  const source = "const a = 'x // y'; /* c\nd */ const b = `t ${1} u`; // e\nconst r = /z/;";
  const { code, codeWithoutLiterals } = blankNonCode(source);
  assert.is(code.length, source.length);
  assert.is(codeWithoutLiterals.length, source.length);
  assert.equal(code.split('\n').length, source.split('\n').length);
  assert.is(code.split('\n')[0], `const a = 'x // y';${' '.repeat(5)}`);
  assert.is(codeWithoutLiterals.split('\n')[1], '     const b = `  ${1}  `;     ');
  assert.is(codeWithoutLiterals.split('\n')[2], 'const r = / /;');
});

test('checker: a violating scratch copy of a real core file is caught, naming file and line', () => {
  const original = readFileSync(join(coreDir, 'pieces.ts'), 'utf8');
  assert.equal(checkPurity(original, 'core/pieces.ts'), []);
  const lines = original.split('\n');
  lines.splice(5, 0, 'const startedMs = Date.now();');
  const violations = checkPurity(lines.join('\n'), 'core/pieces.ts');
  assert.equal(violations, [{ file: 'core/pieces.ts', line: 6, rule: 'Date (time is an argument: nowMs)', text: 'const startedMs = Date.now();' }]);
});

test.run();
