/**
 * Drivers stay readable: no function in sim/ or transport/ spans more than 80 lines (a function
 * holding its state in closures counts them all). Parsed with the TypeScript compiler, so
 * methods, constructors, accessors, arrow functions and function expressions all count.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const MAX_LINES = 80;
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Known long functions, each to be split, never to be added to (none left). */
const ALLOWED = new Set<string>();

interface LongFunction { where: string; name: string; lines: number }

function tsFilesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return tsFilesUnder(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

function nameOf(node: ts.Node): string {
  if ((ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node) || ts.isGetAccessor(node) || ts.isSetAccessor(node)) && node.name) {
    return node.name.getText();
  }
  if (ts.isConstructorDeclaration(node)) return 'constructor';
  const parent = node.parent;
  if (parent && ts.isVariableDeclaration(parent)) return parent.name.getText();
  if (parent && ts.isPropertyAssignment(parent)) return parent.name.getText();
  if (parent && ts.isPropertyDeclaration(parent)) return parent.name.getText();
  return '(anonymous)';
}

/** Every function-like node of `source` longer than MAX_LINES. */
export function longFunctions(file: string, source: string): LongFunction[] {
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const found: LongFunction[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const first = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line;
      const last = sf.getLineAndCharacterOfPosition(node.getEnd()).line;
      const lines = last - first + 1;
      if (lines > MAX_LINES) found.push({ where: `${file}:${first + 1}`, name: `${file}:${nameOf(node)}`, lines });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

test(`no function in sim/ or transport/ is longer than ${MAX_LINES} lines`, () => {
  const files = [...tsFilesUnder(join(REPO_ROOT, 'sim')), ...tsFilesUnder(join(REPO_ROOT, 'transport'))];
  assert.ok(files.length > 40, `found only ${files.length} files`);
  const long = files.flatMap((path) => longFunctions(relative(REPO_ROOT, path), readFileSync(path, 'utf8')))
    .filter((fn) => !ALLOWED.has(fn.name));
  const listing = long.map((fn) => `  ${fn.where} ${fn.name.split(':')[1]}: ${fn.lines} lines`).join('\n');
  assert.equal(long, [], `split these into named parts (a class, or smaller functions):\n${listing}`);
});

test('the checker counts methods, arrow functions and closures, and the whole body', () => {
  const body = (n: number): string => Array.from({ length: n }, (_, i) => `  const v${i} = ${i};`).join('\n');
  const source = [
    `function short() {\n${body(78)}\n}`,
    `function long() {\n${body(79)}\n}`,
    `class C {\n  method() {\n${body(80)}\n  }\n}`,
    `const arrow = () => {\n${body(90)}\n};`,
    `function outer() {\n  const inner = () => {\n${body(50)}\n  };\n${body(40)}\n}`,
  ].join('\n');
  assert.equal(longFunctions('x.ts', source).map((fn) => `${fn.name.split(':')[1]} ${fn.lines}`), [
    'long 81', 'method 82', 'arrow 92', 'outer 94',
  ]);
});

test.run();
