import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_CONFIG } from '../../../core/config.ts';
import { parseOptions, UsageError } from '../../../transport/supernode/options.ts';
import { removeDir, tempDir } from '../../../bench/testbed/processes.ts';

const argv = (...flags: string[]): string[] => ['node', 'supernode', ...flags];

function withConfig(yaml: string, body: (path: string) => void): void {
  const dir = tempDir('options');
  try {
    const path = join(dir, 'supernode.yaml');
    writeFileSync(path, yaml);
    body(path);
  } finally {
    removeDir(dir);
  }
}

test('defaults: port 8002 on 127.0.0.1, unlimited, the core defaults', () => {
  const opts = parseOptions(argv());
  assert.is(opts.port, 8002);
  assert.is(opts.host, '127.0.0.1');
  assert.is(opts.limitInBytesPerSec, 0);
  assert.is(opts.limitOutBytesPerSec, 0);
  assert.is(opts.sourceTimeoutMs, 30_000);
  assert.equal(opts.core, { ...DEFAULT_CONFIG });
});

test('upload rate: --upload-rate, else unknown (0) — a --limit-out cap does not declare it; the config file spells it upload-rate', () => {
  assert.is(parseOptions(argv()).uploadRateBytesPerSec, 0);
  assert.is(parseOptions(argv('--limit-out', '100MB')).uploadRateBytesPerSec, 0);
  assert.is(parseOptions(argv('--limit-out', '100MB', '--upload-rate', '1Gbit')).uploadRateBytesPerSec, 125_000_000);
  withConfig('upload-rate: 10Gbit\n', (path) => assert.is(parseOptions(argv('--config', path)).uploadRateBytesPerSec, 1_250_000_000));
  assert.throws(() => parseOptions(argv('--upload-rate', 'fast')), (err: Error) => err instanceof UsageError && /--upload-rate/.test(err.message));
});

test('scheduler thresholds use the core names; rates and durations take units', () => {
  const opts = parseOptions(argv('--pieces-per-pull', '6', '--peer-up-limit', '3', '--peer-down-limit', '2',
    '--supernode-up-limit', '9', '--global-blacklist-threshold', '7', '--self-isolation-threshold', '8',
    '--limit-in', '100MB', '--limit-out', '1Gbit', '--piece-timeout-ms', '2min', '--piece-size-bytes', '1MiB'));
  assert.is(opts.core.piecesPerPull, 6);
  assert.is(opts.core.peerUpLimit, 3);
  assert.is(opts.core.peerDownLimit, 2);
  assert.is(opts.core.supernodeUpLimit, 9);
  assert.is(opts.core.globalBlacklistThreshold, 7);
  assert.is(opts.core.selfIsolationThreshold, 8);
  assert.is(opts.core.pieceTimeoutMs, 120_000);
  assert.is(opts.core.pieceSizeBytes, 1024 * 1024);
  assert.is(opts.limitInBytesPerSec, 100e6);
  assert.is(opts.limitOutBytesPerSec, 125e6);
});

test('--config YAML takes camelCase or kebab-case keys; flags win over it', () => withConfig(
  'piecesPerPull: 5\npeer-up-limit: 2\nlimitOut: 10MB\nport: 9000\nhost: 0.0.0.0\n', (path) => {
    const fromFile = parseOptions(argv('--config', path));
    assert.is(fromFile.core.piecesPerPull, 5);
    assert.is(fromFile.core.peerUpLimit, 2);
    assert.is(fromFile.limitOutBytesPerSec, 10e6);
    assert.is(fromFile.port, 9000);
    assert.is(fromFile.host, '0.0.0.0');
    const flagsWin = parseOptions(argv('--config', path, '--pieces-per-pull', '3', '--port', '9100'));
    assert.is(flagsWin.core.piecesPerPull, 3);
    assert.is(flagsWin.port, 9100);
    assert.is(flagsWin.core.peerUpLimit, 2);
  }));

test('bad settings are usage errors that name the setting', () => {
  const cases: [string[], RegExp][] = [
    [argv('--pieces-per-pull', '0'), /--pieces-per-pull: must be at least 1/],
    [argv('--limit-in', 'fast'), /--limit-in: invalid rate "fast"/],
    [argv('--port', '70000'), /--port: must be a whole number from 0 to 65535/],
    [argv('--log-level', 'loud'), /--log-level must be one of/],
    [argv('--no-such-flag'), /unknown option/],
    [argv('--config', '/nonexistent/supernode.yaml'), /cannot read --config/],
  ];
  for (const [args, message] of cases) {
    try {
      parseOptions(args);
      assert.unreachable(args.join(' '));
    } catch (err) {
      assert.instance(err, UsageError, args.join(' '));
      assert.match((err as Error).message, message);
    }
  }
  withConfig('piecesPerPul: 5\n', (path) => assert.throws(() => parseOptions(argv('--config', path)), /unknown setting "piecesPerPul"/));
  withConfig('- a\n- b\n', (path) => assert.throws(() => parseOptions(argv('--config', path)), /must be a mapping/));
});

test('--cdn-concurrency is the core setting sourceFetchConcurrency, on the command line and in YAML', () => {
  assert.is(parseOptions(argv('--cdn-concurrency', '4')).core.sourceFetchConcurrency, 4);
  assert.is(parseOptions(argv('--source-fetch-concurrency', '6')).core.sourceFetchConcurrency, 6);
  assert.is(parseOptions(argv('--cdn-concurrency', '3', '--source-fetch-concurrency', '3')).core.sourceFetchConcurrency, 3);
  assert.throws(() => parseOptions(argv('--cdn-concurrency', '3', '--source-fetch-concurrency', '5')),
    (err: Error) => err instanceof UsageError && /same setting, give one/.test(err.message));
  assert.throws(() => parseOptions(argv('--cdn-concurrency', '65')),
    (err: Error) => err instanceof UsageError && /--source-fetch-concurrency: must be at most 64/.test(err.message));
  withConfig('cdn-concurrency: 5\n', (path) => {
    assert.is(parseOptions(argv('--config', path)).core.sourceFetchConcurrency, 5);
  });
});

test.run();
