/**
 * The checker behind test/core/purity.test.ts: core/ must stay pure (no I/O, clock, randomness,
 * timers, promises or packages) so the simulator and the real processes run the same decisions.
 *
 * It works on text, not on a TypeScript AST, so it first blanks what cannot be code: comments
 * everywhere, and string, template and regex literal bodies for the word rules (import rules read
 * the module specifiers, so they see strings). Blanked characters become spaces and newlines are
 * kept, so a finding's line number is the line in the file. Telling a regex literal from a division
 * uses the usual heuristic (what precedes the `/`); a regex right after `)` or `]` would be read as
 * a division, which only odd code does.
 */

export interface PurityViolation { file: string; line: number; rule: string; text: string }

const WORD_RULES: readonly [rule: string, pattern: RegExp][] = [
  ['Date (time is an argument: nowMs)', /\bDate\b/],
  ['performance (time is an argument: nowMs)', /\bperformance\b/],
  ['Math.random (randomness is injected: Rng)', /\bMath\s*\.\s*random\b/],
  ['timer (deadlines go out via nextDeadlineMs)', /\b(?:setTimeout|setInterval|setImmediate|queueMicrotask)\b/],
  ['process', /\bprocess\b/],
  ['async', /\basync\b/],
  ['await', /\bawait\b/],
  ['Promise', /\bPromise\b/],
  ['fs (no I/O in core)', /\bfs\b/],
  ['globalThis', /\bglobalThis\b/],
  ['fetch( (no I/O in core)', /\bfetch\s*\(/],
  ['require(', /\brequire\s*\(/],
  ['dynamic import(', /\bimport\s*\(/],
];

/** Finds every purity violation in one source text. */
export function checkPurity(source: string, file = '<snippet>'): PurityViolation[] {
  const { code, codeWithoutLiterals } = blankNonCode(source);
  const sourceLines = source.split('\n');
  const violations: PurityViolation[] = [];
  const report = (index: number, rule: string) => {
    const line = lineAt(source, index);
    violations.push({ file, line, rule, text: sourceLines[line - 1].trim() });
  };
  const specifiers = /\b(?:import|export)\b[^;'"`]*?\bfrom\s*(['"])([^'"\n]*)\1|\bimport\s*(['"])([^'"\n]*)\3/g;
  for (const match of code.matchAll(specifiers)) {
    const specifier = match[2] ?? match[4];
    const at = match.index + match[0].lastIndexOf(specifier);
    if (specifier.startsWith('node:')) report(at, `node: import "${specifier}"`);
    else if (!specifier.startsWith('./') && !specifier.startsWith('../')) report(at, `non-relative import "${specifier}"`);
  }
  const lines = codeWithoutLiterals.split('\n');
  let offset = 0;
  for (const lineText of lines) {
    for (const [rule, pattern] of WORD_RULES) {
      const match = pattern.exec(lineText);
      if (match) report(offset + match.index, rule);
    }
    offset += lineText.length + 1;
  }
  return violations.sort((a, b) => a.line - b.line);
}

function lineAt(source: string, index: number): number {
  let line = 1;
  for (let i = 0; i < index; i++) if (source.charCodeAt(i) === 10) line++;
  return line;
}

/** Characters after which a `/` starts a regex literal rather than a division. */
const BEFORE_REGEX = new Set('(,=:[!&|?{};+-*%<>~^'.split(''));
const KEYWORDS_BEFORE_REGEX = /\b(?:return|typeof|case|do|else|in|of|new|delete|void|throw|yield|await)$/;

/**
 * `code`: comments blanked. `codeWithoutLiterals`: also the bodies of strings, templates (not their
 * `${...}` expressions) and regex literals blanked.
 */
export function blankNonCode(source: string): { code: string; codeWithoutLiterals: string } {
  const code: string[] = [];
  const bare: string[] = [];
  const keep = (c: string) => { code.push(c); bare.push(c); };
  const blankBoth = (c: string) => { const b = c === '\n' ? c : ' '; code.push(b); bare.push(b); };
  const literal = (c: string) => { code.push(c); bare.push(c === '\n' ? c : ' '); };
  /** Brace depth at which each enclosing template's `${` opened. */
  const templateStack: number[] = [];
  let braceDepth = 0;
  let lastSignificant = '';
  let i = 0;
  const n = source.length;
  while (i < n) {
    const c = source[i];
    const next = source[i + 1];
    if (c === '/' && next === '/') {
      while (i < n && source[i] !== '\n') blankBoth(source[i++]);
      continue;
    }
    if (c === '/' && next === '*') {
      blankBoth(source[i++]);
      blankBoth(source[i++]);
      while (i < n && !(source[i] === '*' && source[i + 1] === '/')) blankBoth(source[i++]);
      if (i < n) { blankBoth(source[i++]); blankBoth(source[i++]); }
      continue;
    }
    if (c === '"' || c === "'") {
      keep(source[i++]);
      while (i < n && source[i] !== c && source[i] !== '\n') {
        if (source[i] === '\\') literal(source[i++]);
        if (i < n) literal(source[i++]);
      }
      if (i < n) keep(source[i++]);
      lastSignificant = c;
      continue;
    }
    if (c === '`' || (c === '}' && templateStack.length > 0 && templateStack[templateStack.length - 1] === braceDepth)) {
      if (c === '}') templateStack.pop();
      keep(source[i++]);
      while (i < n && source[i] !== '`' && !(source[i] === '$' && source[i + 1] === '{')) {
        if (source[i] === '\\') literal(source[i++]);
        if (i < n) literal(source[i++]);
      }
      if (source[i] === '$') {
        keep(source[i++]);
        keep(source[i++]);
        templateStack.push(braceDepth);
      } else if (i < n) {
        keep(source[i++]);
      }
      lastSignificant = '`';
      continue;
    }
    if (c === '/' && startsRegex(lastSignificant, code)) {
      keep(source[i++]);
      let inClass = false;
      while (i < n && source[i] !== '\n' && (inClass || source[i] !== '/')) {
        if (source[i] === '\\') literal(source[i++]);
        else if (source[i] === '[') inClass = true;
        else if (source[i] === ']') inClass = false;
        if (i < n) literal(source[i++]);
      }
      if (i < n) keep(source[i++]);
      lastSignificant = 'a'; // a regex is a value: a following `/` divides
      continue;
    }
    if (c === '{') braceDepth++;
    if (c === '}') braceDepth--;
    if (!/\s/.test(c)) lastSignificant = c;
    keep(source[i++]);
  }
  return { code: code.join(''), codeWithoutLiterals: bare.join('') };
}

function startsRegex(lastSignificant: string, codeSoFar: string[]): boolean {
  if (lastSignificant === '' || BEFORE_REGEX.has(lastSignificant)) return true;
  if (!/[A-Za-z]/.test(lastSignificant)) return false;
  const tail = codeSoFar.slice(-12).join('').trimEnd();
  return KEYWORDS_BEFORE_REGEX.test(tail);
}
