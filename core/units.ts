/**
 * Human units: the one parser every CLI flag and scenario file goes through, so "40M" means the
 * same thing in `dfget --totallimit=40M`, in a scenario's host bandwidth and in a notebook.
 *
 * Sizes: IEC `KiB MiB GiB TiB` are powers of 1024; SI `KB MB GB TB` are powers of 1000; the bare
 * letters `K M G T` (any case) are powers of 1024, as in the seed's `--totallimit=40M` ("40 MB/s");
 * `B` or no unit means bytes. Decimals are allowed and the result is floored to whole bytes.
 * Rates take the same units per second, optionally written with `/s`, plus network units
 * `Kbit Mbit Gbit Tbit` (SI, 8 bits per byte); a rate of 0 (or "unlimited") means no limit.
 * Durations: `ms s m min h d`, several may follow each other ("2min 5s").
 * Unit names match case-insensitively; "mb" and "MB" are both megabytes, never megabits.
 */

const KiB = 1024;

const SIZE_UNITS: ReadonlyMap<string, number> = new Map([
  ['', 1], ['b', 1],
  ['k', KiB], ['m', KiB ** 2], ['g', KiB ** 3], ['t', KiB ** 4],
  ['kib', KiB], ['mib', KiB ** 2], ['gib', KiB ** 3], ['tib', KiB ** 4],
  ['kb', 1e3], ['mb', 1e6], ['gb', 1e9], ['tb', 1e12],
]);

const BIT_RATE_UNITS: ReadonlyMap<string, number> = new Map([
  ['bit', 1 / 8], ['kbit', 1e3 / 8], ['mbit', 1e6 / 8], ['gbit', 1e9 / 8], ['tbit', 1e12 / 8],
]);

const DURATION_UNITS: ReadonlyMap<string, number> = new Map([
  ['ms', 1], ['s', 1000], ['m', 60_000], ['min', 60_000], ['h', 3_600_000], ['d', 86_400_000],
]);

const SIZE_EXAMPLES = 'e.g. 4096, 512KiB, 1.5MiB, 40M, 2GB';
const RATE_EXAMPLES = 'e.g. 10MB/s, 40M, 100Mbit, 1.5GiB/s, or 0 for unlimited';
const DURATION_EXAMPLES = 'e.g. 500ms, 2s, 3min, 1h, 2min 5s';

const NUMBER_AND_UNIT = /^\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)\s*$/i;

/** Parses "1.5MiB", "40M", "2GB", "4096" or a number of bytes into bytes; throws on anything else. */
export function parseBytes(input: string | number): number {
  if (typeof input === 'number') return wholeFrom(input, 1, input, 'size', SIZE_EXAMPLES);
  const match = NUMBER_AND_UNIT.exec(input);
  const multiplier = match ? SIZE_UNITS.get(match[2].toLowerCase()) : undefined;
  if (!match || multiplier === undefined) throw unitError('size', input, SIZE_EXAMPLES);
  return wholeFrom(Number(match[1]), multiplier, input, 'size', SIZE_EXAMPLES);
}

/** Parses "10MB/s", "40M", "100Mbit", a number, or "unlimited" into bytes per second; 0 = unlimited. */
export function parseRate(input: string | number): number {
  if (typeof input === 'number') return wholeFrom(input, 1, input, 'rate', RATE_EXAMPLES);
  const trimmed = input.trim();
  if (trimmed.toLowerCase() === 'unlimited') return 0;
  const perSecond = trimmed.replace(/\s*\/\s*s(?:ec)?$/i, '');
  const match = NUMBER_AND_UNIT.exec(perSecond);
  const unit = match ? match[2].toLowerCase() : '';
  const multiplier = match ? SIZE_UNITS.get(unit) ?? BIT_RATE_UNITS.get(unit) : undefined;
  if (!match || multiplier === undefined) throw unitError('rate', input, RATE_EXAMPLES);
  const amount = Number(match[1]);
  const bytesPerSec = wholeFrom(amount, multiplier, input, 'rate', RATE_EXAMPLES);
  if (bytesPerSec === 0 && amount > 0) {
    // 0 means unlimited: a tiny limit must not silently turn into no limit at all.
    throw new Error(`rate "${input}" is below 1 byte/s and would mean unlimited; give at least 1 (8bit) or 0 for unlimited`);
  }
  return bytesPerSec;
}

/** Parses "500ms", "2s", "3min", "1h", "2min 5s" or a number of ms into milliseconds. */
export function parseDurationMs(input: string | number): number {
  if (typeof input === 'number') return wholeFrom(input, 1, input, 'duration', DURATION_EXAMPLES);
  const parts: [amount: string, unit: string][] = [];
  const part = /\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)\s*/iy;
  for (let match = part.exec(input); match !== null; match = part.exec(input)) {
    parts.push([match[1], match[2]]);
    if (part.lastIndex === input.length) break;
  }
  if (parts.length === 0 || part.lastIndex !== input.length) throw unitError('duration', input, DURATION_EXAMPLES);
  let totalMs = 0;
  for (const [amount, unit] of parts) {
    // A bare number is ms only on its own: "2min 5" is more likely a typo than 2 min + 5 ms.
    const multiplier = unit === '' && parts.length === 1 ? 1 : DURATION_UNITS.get(unit.toLowerCase());
    if (multiplier === undefined) throw unitError('duration', input, DURATION_EXAMPLES);
    totalMs += Number(amount) * multiplier;
  }
  return wholeFrom(totalMs, 1, input, 'duration', DURATION_EXAMPLES);
}

const IEC_STEPS: readonly [number, string][] = [[KiB ** 4, 'TiB'], [KiB ** 3, 'GiB'], [KiB ** 2, 'MiB'], [KiB, 'KiB']];

/** "1.5 MiB": IEC units, at most two decimals; parseBytes reads it back to within 0.5 %. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return String(bytes);
  const sign = bytes < 0 ? '-' : '';
  const magnitude = Math.abs(bytes);
  for (const [unitBytes, name] of IEC_STEPS) {
    if (magnitude >= unitBytes) return `${sign}${trimDecimals(magnitude / unitBytes)} ${name}`;
  }
  return `${sign}${trimDecimals(magnitude)} B`;
}

/** "10 MiB/s", or "unlimited" for 0 (the meaning of a 0 limit everywhere). */
export function formatRate(bytesPerSec: number): string {
  return bytesPerSec === 0 ? 'unlimited' : `${formatBytes(bytesPerSec)}/s`;
}

/** "850 ms", "12.5 s", "3 min 20 s", "2 h 5 min": the two largest units a reader cares about. */
export function formatDurationMs(durationMs: number): string {
  if (!Number.isFinite(durationMs)) return String(durationMs);
  if (durationMs < 0) return `-${formatDurationMs(-durationMs)}`;
  if (durationMs < 1000) return `${trimDecimals(durationMs)} ms`;
  if (durationMs < 60_000) return `${trimDecimals(durationMs / 1000)} s`;
  const totalSeconds = Math.round(durationMs / 1000);
  if (totalSeconds < 3600) return joinUnits(Math.floor(totalSeconds / 60), 'min', totalSeconds % 60, 's');
  const totalMinutes = Math.round(durationMs / 60_000);
  if (totalMinutes < 24 * 60) return joinUnits(Math.floor(totalMinutes / 60), 'h', totalMinutes % 60, 'min');
  const totalHours = Math.round(durationMs / 3_600_000);
  return joinUnits(Math.floor(totalHours / 24), 'd', totalHours % 24, 'h');
}

function joinUnits(major: number, majorUnit: string, minor: number, minorUnit: string): string {
  return minor === 0 ? `${major} ${majorUnit}` : `${major} ${majorUnit} ${minor} ${minorUnit}`;
}

function trimDecimals(value: number): string {
  return String(Number(value.toFixed(2)));
}

function wholeFrom(amount: number, multiplier: number, input: string | number, what: string, examples: string): number {
  if (!Number.isFinite(amount) || amount < 0) throw unitError(what, input, examples);
  const value = floorIgnoringFloatNoise(amount * multiplier);
  if (!Number.isSafeInteger(value)) {
    throw new Error(`${what} "${String(input)}" is too large (over ${Number.MAX_SAFE_INTEGER}); use a smaller value, ${examples}`);
  }
  return value;
}

/** "1.13KB" is 1129.9999999999998 in binary floating point; it means 1130 bytes. */
function floorIgnoringFloatNoise(value: number): number {
  const nearest = Math.round(value);
  return Math.abs(value - nearest) <= 1e-9 * Math.max(1, Math.abs(value)) ? nearest : Math.floor(value);
}

function unitError(what: string, input: string | number, examples: string): Error {
  const shown = String(input).length > 80 ? `${String(input).slice(0, 80)}...` : String(input);
  return new Error(`invalid ${what} "${shown}": expected a non-negative number with an optional unit, ${examples}`);
}
