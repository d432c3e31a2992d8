import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { checkProperty } from '../helpers/fc-rerun.ts';
import { formatBytes, formatDurationMs, formatRate, parseBytes, parseDurationMs, parseRate } from '../../core/units.ts';

const KiB = 1024;
const MiB = KiB * KiB;
const GiB = MiB * KiB;

test('parseBytes reads IEC, SI and bare units', () => {
  const cases: [string | number, number][] = [
    ['0', 0], ['4096', 4096], [4096, 4096], ['12B', 12], ['1KiB', KiB], ['4 MiB', 4 * MiB], ['2GiB', 2 * GiB],
    ['1TiB', 1024 * GiB], ['1KB', 1000], ['10MB', 10_000_000], ['2GB', 2e9], ['1TB', 1e12],
    ['40M', 40 * MiB], ['4k', 4 * KiB], ['4K', 4 * KiB], ['1G', GiB], ['1T', 1024 * GiB], ['  7 mib ', 7 * MiB],
    ['1.3GiB', Math.floor(1.3 * GiB)], ['1.5MiB', 1.5 * MiB], ['.5KiB', 512], ['2.KiB', 2048], ['1.13KB', 1130],
    [12.9, 12],
  ];
  for (const [input, expected] of cases) assert.is(parseBytes(input), expected, `parseBytes(${JSON.stringify(input)})`);
});

test('parseBytes refuses results past the largest safe integer', () => {
  assert.throws(() => parseBytes('8192TiB'), /too large/);
  assert.is(parseBytes('8191TiB'), 8191 * 1024 * GiB);
});

test('parseBytes rejects bad text with a message naming it and showing examples', () => {
  for (const bad of ['', 'MiB', '-1', '1 XB', '1 Mbit', '1e3', '1,5MiB', '12 34', 'NaN', '1.2.3K', '99999999999TiB']) {
    assert.throws(() => parseBytes(bad), (err: Error) => err.message.includes(`"${bad}"`) && err.message.includes('e.g.'), bad);
  }
  for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY]) assert.throws(() => parseBytes(bad), /invalid size/);
});

test('parseRate reads byte units per second, network units and unlimited', () => {
  const cases: [string | number, number][] = [
    ['0', 0], ['unlimited', 0], [' Unlimited ', 0], ['10MB/s', 10_000_000], ['10 MB/s', 10_000_000], ['10MB / s', 10_000_000],
    ['40M', 40 * MiB], ['1.5GiB/s', 1.5 * GiB], ['100Mbit', 12_500_000], ['1Gbit/s', 125_000_000], ['8Kbit', 1000],
    ['1Tbit', 125e9], ['8bit', 1], ['5000', 5000], [5000, 5000], ['64KiB/sec', 64 * KiB],
  ];
  for (const [input, expected] of cases) assert.is(parseRate(input), expected, `parseRate(${JSON.stringify(input)})`);
});

test('parseRate rejects bad text with a message naming it and showing examples', () => {
  for (const bad of ['', 'fast', '10MB/h', '10Mbps', '-5M', '/s', '10 MB/s/s']) {
    assert.throws(() => parseRate(bad), (err: Error) => err.message.includes(`"${bad}"`) && err.message.includes('0 for unlimited'), bad);
  }
  for (const tiny of ['0.5', '4bit', '0.1B/s']) assert.throws(() => parseRate(tiny), /below 1 byte\/s and would mean unlimited/, tiny);
  assert.is(parseRate('0.0'), 0);
});

test('parseDurationMs reads single and compound durations', () => {
  const cases: [string | number, number][] = [
    ['250', 250], [250, 250], ['500ms', 500], ['2s', 2000], ['1.5s', 1500], ['3min', 180_000], ['3m', 180_000],
    ['1h', 3_600_000], ['1d', 86_400_000], ['2min 5s', 125_000], ['1h30m', 5_400_000], [' 2 min 5 s ', 125_000],
  ];
  for (const [input, expected] of cases) assert.is(parseDurationMs(input), expected, `parseDurationMs(${JSON.stringify(input)})`);
  for (const bad of ['', 's', '2min 5', '5 parsecs', '-1s', '1s!', '2min5s3']) {
    assert.throws(() => parseDurationMs(bad), (err: Error) => err.message.includes(`"${bad}"`) && err.message.includes('e.g.'), bad);
  }
});

test('parseDurationMs stays linear on long near-miss input', () => {
  const hostile = `${'1'.repeat(50_000)}x!`;
  assert.throws(() => parseDurationMs(hostile), /invalid duration/);
});

test('formatBytes, formatRate and formatDurationMs read naturally', () => {
  assert.is(formatBytes(0), '0 B');
  assert.is(formatBytes(1023), '1023 B');
  assert.is(formatBytes(1536), '1.5 KiB');
  assert.is(formatBytes(12 * MiB), '12 MiB');
  assert.is(formatBytes(Math.floor(1.3 * GiB)), '1.3 GiB');
  assert.is(formatBytes(-2 * KiB), '-2 KiB');
  assert.is(formatRate(0), 'unlimited');
  assert.is(formatRate(10 * MiB), '10 MiB/s');
  assert.is(formatDurationMs(850), '850 ms');
  assert.is(formatDurationMs(12_500), '12.5 s');
  assert.is(formatDurationMs(200_000), '3 min 20 s');
  assert.is(formatDurationMs(180_000), '3 min');
  assert.is(formatDurationMs(7_500_000), '2 h 5 min');
  assert.is(formatDurationMs(90_000_000), '1 d 1 h');
});

test('property: plain byte counts round-trip exactly; formatted sizes read back within 0.5 %', () => {
  checkProperty(import.meta.url, 'plain byte counts round-trip', fc.property(fc.nat({ max: 2 ** 52 }), (bytes) => {
    assert.is(parseBytes(String(bytes)), bytes);
    const back = parseBytes(formatBytes(bytes).replace(' ', ''));
    assert.ok(Math.abs(back - bytes) <= bytes * 0.005 + 1, `${bytes} -> ${formatBytes(bytes)} -> ${back}`);
  }), { numRuns: 2000 });
});

test('property: formatted rates read back within 0.5 %, durations within half their smallest shown unit', () => {
  checkProperty(import.meta.url, 'formatted rates read back', fc.property(fc.nat({ max: 2 ** 50 }), (bytesPerSec) => {
    const back = parseRate(formatRate(bytesPerSec));
    assert.ok(Math.abs(back - bytesPerSec) <= bytesPerSec * 0.005 + 1, `${bytesPerSec} -> ${formatRate(bytesPerSec)} -> ${back}`);
  }), { numRuns: 1000 });
  checkProperty(import.meta.url, 'formatted durations read back', fc.property(fc.nat({ max: 30 * 86_400_000 }), (durationMs) => {
    const back = parseDurationMs(formatDurationMs(durationMs));
    const toleranceMs = durationMs < 60_000 ? durationMs * 0.005 + 1 : durationMs < 3_600_000 ? 500 : durationMs < 86_400_000 ? 30_000 : 1_800_000;
    assert.ok(Math.abs(back - durationMs) <= toleranceMs, `${durationMs} -> ${formatDurationMs(durationMs)} -> ${back}`);
  }), { numRuns: 1000 });
});

test('property: whole amounts times any unit parse exactly', () => {
  const units: [string, number][] = [['', 1], ['B', 1], ['K', KiB], ['KiB', KiB], ['MiB', MiB], ['GiB', GiB], ['KB', 1e3], ['MB', 1e6], ['GB', 1e9]];
  checkProperty(import.meta.url, 'whole amounts times any unit', fc.property(fc.nat({ max: 1_000_000 }), fc.constantFrom(...units), fc.boolean(), (amount, [unit, multiplier], spaced) => {
    assert.is(parseBytes(`${amount}${spaced ? ' ' : ''}${unit}`), amount * multiplier);
  }), { numRuns: 1000 });
});

test.run();
