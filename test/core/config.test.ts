import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { checkProperty } from '../helpers/fc-rerun.ts';
import { DEFAULT_CONFIG, SETTING_BOUNDS, configOrThrow, makeConfig, type CoreConfig } from '../../core/config.ts';

const numericKeys = (Object.keys(DEFAULT_CONFIG) as (keyof CoreConfig)[]).filter((k) => typeof DEFAULT_CONFIG[k] === 'number');

function errorOf(overrides: Record<string, unknown>) {
  const cfg = makeConfig(overrides as Partial<CoreConfig>);
  assert.ok('kind' in cfg, `accepted ${JSON.stringify(overrides)}`);
  return cfg as { kind: string; field: string; message: string };
}

test("defaults follow the seed: 4 pieces per pull, 5 uploads, thresholds of 5, the seed's piece rule", () => {
  const cfg = makeConfig();
  assert.equal(cfg, { ...DEFAULT_CONFIG });
  assert.is(DEFAULT_CONFIG.piecesPerPull, 4);
  assert.is(DEFAULT_CONFIG.peerUpLimit, 5);
  assert.is(DEFAULT_CONFIG.globalBlacklistThreshold, 5);
  assert.is(DEFAULT_CONFIG.selfIsolationThreshold, 5);
  assert.is(DEFAULT_CONFIG.pieceSizeBytes, 0);
  assert.ok(Object.isFrozen(DEFAULT_CONFIG));
  assert.is.not(cfg, DEFAULT_CONFIG, 'a fresh object the caller may keep');
});

test('overrides replace only the named settings', () => {
  assert.equal(makeConfig({ piecesPerPull: 8, backToSource: false }), { ...DEFAULT_CONFIG, piecesPerPull: 8, backToSource: false });
});

test('bad settings come back as errors naming the field', () => {
  const cases: [Record<string, unknown>, string, RegExp][] = [
    [{ piecesPerPul: 4 }, 'piecesPerPul', /unknown setting "piecesPerPul"/],
    [{ toString: 4 }, 'toString', /unknown setting/],
    [{ constructor: 4 }, 'constructor', /unknown setting/],
    [{ peerUpLimit: -1 }, 'peerUpLimit', /whole number >= 0, got -1/],
    [{ peerUpLimit: 2.5 }, 'peerUpLimit', /got 2.5/],
    [{ peerUpLimit: Number.NaN }, 'peerUpLimit', /got NaN/],
    [{ pieceTimeoutMs: Number.POSITIVE_INFINITY }, 'pieceTimeoutMs', /got Infinity/],
    [{ waitMinMs: '50' }, 'waitMinMs', /whole number/],
    [{ piecesPerPull: 0 }, 'piecesPerPull', /at least 1/],
    [{ waitMinMs: 100, waitMaxMs: 99 }, 'waitMaxMs', />= waitMinMs/],
    [{ backToSource: 'yes' }, 'backToSource', /true or false/],
  ];
  for (const [overrides, field, message] of cases) {
    const error = errorOf(overrides);
    assert.is(error.kind, 'config-error');
    assert.is(error.field, field, JSON.stringify(overrides));
    assert.match(error.message, message);
  }
  const polluted = JSON.parse('{"__proto__": {"piecesPerPull": 1}}') as Partial<CoreConfig>;
  assert.is(errorOf(polluted).field, '__proto__');
});

test('settings where 0 is meaningful accept it', () => {
  const cfg = configOrThrow({ pieceSizeBytes: 0, selfIsolationThreshold: 0, maxLocalBlacklist: 0 });
  assert.is(cfg.pieceSizeBytes, 0);
});

test('configOrThrow says which setting is wrong', () => {
  assert.throws(() => configOrThrow({ peerDownLimit: 0 }), /invalid setting peerDownLimit: must be at least 1/);
});

test('property: every numeric setting accepts any whole number within its bounds, consistent waits included', () => {
  const withinBounds = fc.constantFrom(...numericKeys).chain((key) => {
    const { min, max } = SETTING_BOUNDS[key as keyof typeof SETTING_BOUNDS];
    const low = key === 'pieceSizeBytes' ? 64 * 1024 : Math.max(min, 1);
    return fc.tuple(fc.constant(key), fc.integer({ min: low, max: Math.min(max, 1_000_000_000) }));
  });
  checkProperty(import.meta.url, 'valid overrides', fc.property(
    fc.array(withinBounds, { maxLength: 8 }).map((pairs) => Object.fromEntries(pairs) as Partial<CoreConfig>),
    (overrides) => {
      const merged = { ...DEFAULT_CONFIG, ...overrides };
      fc.pre(merged.waitMaxMs >= merged.waitMinMs && merged.seederRetryMaxMs >= merged.seederRetryMinMs);
      assert.equal(makeConfig(overrides), merged);
    },
  ), { numRuns: 300 });
});

test('impossible settings are refused with the field named: zero slots, pieces under 64 KiB or over one frame', () => {
  assert.is(errorOf({ peerDownLimit: 0 }).field, 'peerDownLimit');
  assert.match(errorOf({ pieceSizeBytes: 3 }).message, /at least 65536 bytes/);
  assert.match(errorOf({ pieceSizeBytes: 1024 ** 3 }).message, /at most 16777216/);
  assert.equal(makeConfig({ pieceSizeBytes: 16 * 1024 * 1024 }), { ...DEFAULT_CONFIG, pieceSizeBytes: 16 * 1024 * 1024 });
});

test.run();
