/**
 * How the supernode's CDN fetches a source: which byte ranges, how many at once, and when to try
 * a failed request again. The real CDN (transport/cdn) and the simulated one (sim/) both follow
 * these decisions, so the simulator models the same parallel streams the supernode opens.
 *
 * Theory of operation. The pieces the cache lacks are grouped into runs of contiguous pieces, cut
 * into runs of at most `SOURCE_RUN_MAX_PIECES` when more than one stream runs, and — for a small
 * file — split further (longest
 * first, in halves) until there are `sourceFetchConcurrency` of them. Each run is one ranged GET
 * streamed piece by piece; `sourceFetchConcurrency` GETs run at once, each stream taking the next
 * run in file order when its own ends. So the source is kept busy by parallel streams, while the
 * pieces land nearly in file order: at most (concurrency - 1) runs ahead of the first piece still
 * missing. That matters downstream: the whole-file digest is hashed in file order as pieces land
 * (a piece stored ahead of its turn is read back from disk), and a cold peer, which is sent the
 * pieces nearest to the ones it is fetching, can follow the CDN piece by piece. (Halves of the
 * file, the earlier plan, left half of every file to be read back and hashed at its end.)
 *
 * A retryable failure (cut connection, timeout, 5xx, short body) is tried again after
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

/**
 * Longest run one GET fetches: 8 pieces is 32-120 MiB (4-15 MiB pieces), long enough that the
 * round trip of the next GET is small beside it, short enough that parallel streams stay near
 * file order.
 */
export const SOURCE_RUN_MAX_PIECES = 8;

/** Cut every run into consecutive runs of at most `maxPieces`. */
export function capRuns(runs: readonly PieceRun[], maxPieces: number): PieceRun[] {
  const out: PieceRun[] = [];
  for (const run of runs) {
    for (let first = run.first; first < run.end; first += maxPieces) out.push({ first, end: Math.min(run.end, first + maxPieces) });
  }
  return out;
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
  /** In file order: each stream takes the next one when its own ends. */
  runs: PieceRun[];
  /** Runs fetched at once (each a ranged GET streamed piece by piece). */
  concurrency: number;
}

/** The ranged GETs that fetch every piece not yet stored. */
export function planSourceFetch(cfg: Pick<CoreConfig, 'sourceFetchConcurrency'>, pieceCount: number,
  stored: (piece: number) => boolean): SourceFetchPlan {
  const missing = missingRuns(pieceCount, stored);
  // One stream has nothing to stay in step with: cutting its run would only add round trips.
  const cut = cfg.sourceFetchConcurrency > 1 ? capRuns(missing, SOURCE_RUN_MAX_PIECES) : missing;
  const runs = splitRuns(cut, cfg.sourceFetchConcurrency);
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
