/**
 * How the supernode's CDN fetches a source: which byte ranges, how many at once, and when to try
 * a failed request again. The real CDN (transport/cdn) and the simulated one (sim/) both follow
 * these decisions, so the simulator models the same parallel streams the supernode opens.
 *
 * Theory of operation. The pieces the cache lacks are grouped into runs of contiguous pieces;
 * the runs are split (longest first, in halves) until there are `sourceFetchConcurrency` of them,
 * and each run is one ranged GET streamed piece by piece, `sourceFetchConcurrency` at a time. A
 * fresh file of P pieces thus arrives as that many parallel streams over equal shares of it. A
 * retryable failure (cut connection, timeout, 5xx, short body) is tried again after
 * `sourceRetryDelayMs`, doubling per try, up to `sourceFetchAttempts` tries in all; a retry
 * resumes after the pieces already stored.
 */
import type { CoreConfig } from './config.ts';

/** Pieces [first, end). */
export interface PieceRun { first: number; end: number }

/** The runs of contiguous pieces for which `stored(piece)` is false, in order. */
export function missingRuns(pieceCount: number, stored: (piece: number) => boolean): PieceRun[] {
  const runs: PieceRun[] = [];
  for (let piece = 0; piece < pieceCount; piece++) {
    if (stored(piece)) continue;
    const last = runs[runs.length - 1];
    if (last && last.end === piece) last.end++; else runs.push({ first: piece, end: piece + 1 });
  }
  return runs;
}

/** Halve the longest run until there are `count` runs (or every run is one piece); sorted by start. */
export function splitRuns(runs: readonly PieceRun[], count: number): PieceRun[] {
  const out = runs.map((run) => ({ ...run }));
  while (out.length < count) {
    let longest = 0;
    for (let i = 1; i < out.length; i++) if (out[i].end - out[i].first > out[longest].end - out[longest].first) longest = i;
    const run = out[longest];
    if (!run || run.end - run.first < 2) break;
    const middle = run.first + Math.floor((run.end - run.first) / 2);
    out.splice(longest, 1, { first: run.first, end: middle }, { first: middle, end: run.end });
  }
  return out.sort((a, b) => a.first - b.first);
}

export interface SourceFetchPlan {
  runs: PieceRun[];
  /** Runs fetched at once (each a ranged GET streamed piece by piece). */
  concurrency: number;
}

/** The ranged GETs that fetch every piece not yet stored. */
export function planSourceFetch(cfg: Pick<CoreConfig, 'sourceFetchConcurrency'>, pieceCount: number,
  stored: (piece: number) => boolean): SourceFetchPlan {
  const runs = splitRuns(missingRuns(pieceCount, stored), cfg.sourceFetchConcurrency);
  return { runs, concurrency: Math.max(1, Math.min(cfg.sourceFetchConcurrency, runs.length)) };
}

/**
 * After try number `tried` (1-based) failed: the delay before the next try, or null to give up
 * (the failure is not retryable, or every try is spent).
 */
export function sourceRetryDelayMs(cfg: Pick<CoreConfig, 'sourceFetchAttempts' | 'sourceRetryDelayMs'>, tried: number,
  retryable: boolean): number | null {
  if (!retryable || tried >= cfg.sourceFetchAttempts) return null;
  return cfg.sourceRetryDelayMs * 2 ** (tried - 1);
}
