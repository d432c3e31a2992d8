/**
 * Fetching one task's source into the cache, for the CDN (cdn.ts): probe, reuse what is intact
 * on disk, fetch what is missing, store each piece the moment it is complete and announce it.
 *
 * The probe is a GET of byte 0 (conditional when a cache is on disk). 304 → the cache is current:
 * announce its verified pieces and fetch only the missing ones. 206 → the source takes ranges:
 * one ranged GET (If-Range) per run of missing pieces, as the core plans them (`planSourceFetch`:
 * runs split until there are `sourceFetchConcurrency` of them, that many at a time), each cut
 * into pieces as its bytes arrive. 200 → no ranges: the body itself is cut into pieces (spooled
 * first when it has no length, since the piece size depends on the length). Every pass is safe to
 * repeat: a retry resumes after the pieces already stored. A validator or digest that changes
 * between requests fails the task rather than mix two versions of the file.
 */
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { CoreConfig } from '../../core/config.ts';
import { pieceRange, planPieces, type PiecePlan } from '../../core/pieces.ts';
import type { TaskId, TaskSpec } from '../../core/protocol.ts';
import { planSourceFetch, sourceRetryDelayMs, type PieceRun } from '../../core/source-fetch.ts';
import type { SupernodeInput } from '../../core/supernode-io.ts';
import { parseContentRange } from '../http-range.ts';
import { redactCredentials } from '../redact.ts';
import { CancelledError, sleep } from '../real-timer.ts';
import type { BufferPool } from '../buffer-pool.ts';
import type { LogLevel } from '../supernode/log.ts';
import type { CacheMeta, CdnStore } from './cdn-store.ts';
import { FileDigest } from './file-digest.ts';
import { cutIntoPieces } from './piece-cutter.ts';
import { SourceError, statusError, type SourceClient, type SourceResponse } from './source-client.ts';

export interface TaskState {
  generation: number;
  abort: AbortController;
  spec: TaskSpec | null;
  meta: CacheMeta | null;
  /** Whole-file digest of `meta`, advanced as pieces are stored. */
  digest: FileDigest | null;
  chain: Promise<void>;
  /** Jobs enqueued on `chain` and not finished. */
  pending: number;
  /** The latest meta write (it may reject: its caller hears of it), and whether one is queued. */
  saving: Promise<void>;
  saveQueued: boolean;
  /** A meta write of stored pieces, due within META_SAVE_INTERVAL_MS. */
  saveTimer: NodeJS.Timeout | null;
}

/**
 * Longest a stored piece waits to be recorded in meta.json. Each write serializes the whole meta
 * (every piece's record) and renames it into place; once per piece, it held up the next piece
 * of the source. A crash refetches at most the pieces stored in this window.
 */
export const META_SAVE_INTERVAL_MS = 250;

/** One job's view: its generation's signal and an emitter that goes quiet once the task is dropped. */
export interface Job {
  taskId: TaskId;
  state: TaskState;
  signal: AbortSignal;
  emit: (input: SupernodeInput) => void;
}

export interface FetcherDeps {
  store: CdnStore;
  client: SourceClient;
  pool: BufferPool;
  log: (level: LogLevel, message: string) => void;
  core: Pick<CoreConfig, 'sourceFetchConcurrency' | 'sourceFetchAttempts' | 'sourceRetryDelayMs'>;
  counters: { piecesStored: number; fetchesCompleted: number };
}

/** A GET of the first byte: answers "is it there, how long, which version" for one byte. */
export const PROBE = { range: 'bytes=0-0' };

export class SourceFetcher {
  constructor(private readonly deps: FetcherDeps) {}

  async fetchTask(job: Job, spec: TaskSpec, pieceSizeSetting: number): Promise<void> {
    const { store } = this.deps;
    job.state.spec = spec;
    this.deps.log('debug', `CDN task ${job.taskId.slice(0, 12)}: fetching ${redactCredentials(spec.url)}`);
    let meta = await store.loadMeta(job.taskId);
    if (meta && (meta.url !== redactCredentials(spec.url) || meta.pieceSizeSetting !== pieceSizeSetting)) {
      await store.remove(job.taskId);
      meta = null;
    }
    job.state.meta = meta;
    try {
      await this.withRetry(job, () => this.fetchOnce(job, spec, pieceSizeSetting));
      await this.finalize(job, spec);
    } catch (err) {
      if (err instanceof CancelledError) return;
      const failure = asSourceError(err);
      this.deps.log('warn', `fetching ${spec.url} for task ${job.taskId.slice(0, 12)} failed: ${failure.message}`);
      job.emit({ kind: 'cdn-failed', taskId: job.taskId, reason: failure.message, ...(failure.status !== undefined ? { status: failure.status } : {}) });
    }
  }

  /** One pass: probe the source, reuse what is intact, fetch what is missing. Safe to repeat. */
  private async fetchOnce(job: Job, spec: TaskSpec, pieceSizeSetting: number): Promise<void> {
    const cached = job.state.meta;
    const res = await this.deps.client.get(spec.url, spec.headers, { ...PROBE, ...(cached ? conditionalHeaders(cached) : {}) }, job.signal);
    this.deps.log('debug', `CDN task ${job.taskId.slice(0, 12)}: the source answered the probe with ${res.status}`);
    if (res.status === 304 && cached) {
      await res.discard();
      await this.announce(job, cached);
      if (cached.acceptRanges) return this.fetchMissingByRange(job, spec);
      return this.streamWhole(job, spec, pieceSizeSetting);
    }
    if (res.status === 206) {
      const range = parseContentRange(res.headers.get('content-range'));
      await res.discard();
      if (!range || range.totalBytes === null) return this.streamWhole(job, spec, pieceSizeSetting);
      const meta = await this.adopt(job, spec, pieceSizeSetting, res, range.totalBytes, true);
      await this.announce(job, meta);
      return this.fetchMissingByRange(job, spec);
    }
    if (res.status === 200) return this.streamBody(job, spec, pieceSizeSetting, res);
    if (res.status === 416) {
      await res.discard();
      const meta = await this.adopt(job, spec, pieceSizeSetting, res, 0, true);
      return this.announce(job, meta);
    }
    await res.discard();
    throw statusError(res.status, spec.url);
  }

  /**
   * Keep the cache when the source's validators still match it; otherwise start a fresh one —
   * unless `expect`ed to match (a refetch), when a mismatch means the source changed under us.
   */
  private async adopt(job: Job, spec: TaskSpec, pieceSizeSetting: number, res: SourceResponse, totalBytes: number,
    acceptRanges: boolean, expect?: CacheMeta): Promise<CacheMeta> {
    const etag = res.headers.get('etag') ?? undefined;
    const lastModified = res.headers.get('last-modified') ?? undefined;
    const cached = job.state.meta;
    if (cached && cached.totalBytes === totalBytes && cached.etag === etag && cached.lastModified === lastModified
      && cached.acceptRanges === acceptRanges) return cached;
    if (expect) throw changedError(spec.url, 'its length or validators differ from the cached copy');
    if (cached) await this.deps.store.remove(job.taskId);
    const plan = planPieces(totalBytes, pieceSizeSetting);
    const meta: CacheMeta = {
      url: redactCredentials(spec.url), etag, lastModified, acceptRanges, totalBytes, pieceSizeBytes: plan.pieceSizeBytes,
      pieceCount: plan.pieceCount, pieceSizeSetting, pieces: new Array(plan.pieceCount).fill(null), complete: false,
    };
    job.state.meta = meta;
    await this.persist(job, meta);
    return meta;
  }

  /** Tell the core the length, then every piece already intact on disk. */
  private async announce(job: Job, meta: CacheMeta): Promise<void> {
    this.deps.log('debug', `CDN task ${job.taskId.slice(0, 12)}: ${meta.totalBytes} bytes in ${meta.pieceCount} pieces`);
    job.emit({ kind: 'cdn-length', taskId: job.taskId, totalBytes: meta.totalBytes });
    const intact = await this.deps.store.intactPieces(job.taskId, meta);
    this.digestOf(job, meta);
    if (job.signal.aborted) throw new CancelledError();
    for (const piece of intact) job.emit({ kind: 'cdn-piece', taskId: job.taskId, piece, digest: meta.pieces[piece]!.digest });
  }

  /**
   * Fetch the missing pieces as the core plans them: runs of contiguous pieces, one ranged GET per
   * run, cut into pieces as the bytes arrive (a request per piece cost more than the transfer on
   * loopback), so a fresh file arrives in parallel streams.
   */
  private async fetchMissingByRange(job: Job, spec: TaskSpec): Promise<void> {
    const meta = job.state.meta!;
    const { runs, concurrency } = planSourceFetch(this.deps.core, meta.pieceCount, (piece) => meta.pieces[piece] !== null);
    let next = 0;
    let failed = false;
    const worker = async (): Promise<void> => {
      while (next < runs.length && !failed) {
        const run = runs[next++];
        try {
          await this.withRetry(job, () => this.fetchRun(job, spec, meta, run, false));
        } catch (err) {
          failed = true;
          throw err;
        }
      }
    };
    // allSettled: no worker may still be writing when the caller retries or gives up.
    const results = await Promise.allSettled(Array.from({ length: runs.length === 0 ? 0 : concurrency }, worker));
    const rejected = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (rejected) throw rejected.reason;
  }

  /**
   * One ranged GET for pieces [run.first, run.end). A retry resumes after the pieces already
   * stored; `refetch` stores pieces that are on record too (their digests must not change).
   */
  private async fetchRun(job: Job, spec: TaskSpec, meta: CacheMeta, run: PieceRun, refetch: boolean): Promise<void> {
    let first = run.first;
    while (!refetch && first < run.end && meta.pieces[first]) first++;
    if (first >= run.end) return;
    const plan = planOf(meta);
    const startByte = pieceRange(plan, first).startByte;
    const endByte = pieceRange(plan, run.end - 1).endByte;
    const validator = meta.etag ?? meta.lastModified;
    const res = await this.deps.client.getRange(spec.url, spec.headers,
      { range: `bytes=${startByte}-${endByte - 1}`, ...(validator ? { 'if-range': validator } : {}) }, job.signal);
    if (res.status !== 206) {
      await res.discard();
      if (res.status === 200) throw changedError(spec.url, 'it answered a byte range with the whole, different file');
      throw statusError(res.status, spec.url);
    }
    const etag = res.headers.get('etag') ?? undefined;
    const range = parseContentRange(res.headers.get('content-range'));
    if (meta.etag !== undefined && etag !== undefined && etag !== meta.etag) {
      await res.discard();
      throw changedError(spec.url, `ETag ${meta.etag} became ${etag}`);
    }
    if (!range || range.startByte !== startByte || (range.totalBytes !== null && range.totalBytes !== meta.totalBytes)) {
      await res.discard();
      throw changedError(spec.url, `it answered bytes ${startByte}-${endByte - 1} with Content-Range ${res.headers.get('content-range')}`);
    }
    const received = await cutIntoPieces(res, this.deps.pool, {
      plan: planOf(meta), first, end: run.end, wanted: (piece) => refetch || !meta.pieces[piece],
      store: (piece, bytes) => this.storePiece(job, meta, piece, bytes),
    });
    if (received !== endByte - startByte) {
      throw new SourceError(`the source ${spec.url} sent ${received} of the ${endByte - startByte} bytes asked for`, true, 206);
    }
  }

  /**
   * A source without ranges: GET the whole file again (no validators: we need the body).
   * `expect` = the cache must still match the source (refetching one lost piece).
   */
  private async streamWhole(job: Job, spec: TaskSpec, pieceSizeSetting: number, expect?: CacheMeta): Promise<void> {
    const res = await this.deps.client.get(spec.url, spec.headers, {}, job.signal);
    if (res.status !== 200) {
      await res.discard();
      throw statusError(res.status, spec.url);
    }
    return this.streamBody(job, spec, pieceSizeSetting, res, expect);
  }

  /** Cut a 200 body into pieces as it arrives (or, with no length, spool it and cut it after). */
  private async streamBody(job: Job, spec: TaskSpec, pieceSizeSetting: number, res: SourceResponse, expect?: CacheMeta): Promise<void> {
    const totalBytes = Number(res.headers.get('content-length') ?? NaN);
    // No usable length: the piece size depends on it, so the body is spooled and cut afterwards.
    if (!Number.isSafeInteger(totalBytes) || totalBytes < 0) return this.spoolBody(job, spec, pieceSizeSetting, res, expect);
    const meta = await this.adopt(job, spec, pieceSizeSetting, res, totalBytes, false, expect);
    await this.announce(job, meta);
    const received = await cutIntoPieces(res, this.deps.pool, {
      plan: planOf(meta), first: 0, end: meta.pieceCount, wanted: (piece) => !meta.pieces[piece],
      store: (piece, bytes) => this.storePiece(job, meta, piece, bytes),
    });
    if (received !== totalBytes) {
      throw new SourceError(`the source ${spec.url} sent ${received} bytes but announced ${totalBytes} (Content-Length)`, true, 200);
    }
  }

  private async spoolBody(job: Job, spec: TaskSpec, pieceSizeSetting: number, res: SourceResponse, expect?: CacheMeta): Promise<void> {
    const { store } = this.deps;
    if (!expect) {
      if (job.state.meta) await store.remove(job.taskId);
      job.state.meta = null;
      await store.saveMeta(job.taskId, emptyMeta(spec.url, pieceSizeSetting));
    }
    const spoolPath = store.spoolPath(job.taskId);
    const out = createWriteStream(spoolPath);
    let totalBytes = 0;
    try {
      for await (const chunk of res.chunks()) {
        totalBytes += chunk.length;
        if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
      }
    } finally {
      await new Promise<void>((resolve) => out.end(() => resolve()));
    }
    const meta = await this.adopt(job, spec, pieceSizeSetting, res, totalBytes, false, expect);
    await this.announce(job, meta);
    const plan = planOf(meta);
    for (let piece = 0; piece < meta.pieceCount; piece++) {
      if (meta.pieces[piece]) continue;
      const { startByte, endByte } = pieceRange(plan, piece);
      await this.storePiece(job, meta, piece, await store.readRange(spoolPath, startByte, endByte));
    }
    await rm(spoolPath, { force: true });
  }

  private async storePiece(job: Job, meta: CacheMeta, piece: number, bytes: Buffer): Promise<void> {
    if (job.signal.aborted) throw new CancelledError();
    const record = await this.deps.store.writePiece(job.taskId, piece, bytes);
    const previous = meta.pieces[piece];
    if (previous && previous.digest !== record.digest) {
      throw changedError(meta.url, `piece ${piece} now has ${record.digest}, it had ${previous.digest}`);
    }
    meta.pieces[piece] = record;
    this.deps.counters.piecesStored++;
    // Announced before the meta file records it (within META_SAVE_INTERVAL_MS; finishing the
    // file writes it at once): a crash in between costs a refetch, never a piece served without a
    // record in memory.
    job.emit({ kind: 'cdn-piece', taskId: job.taskId, piece, digest: record.digest });
    this.persistSoon(job, meta);
    if (job.state.digest?.meta === meta) await job.state.digest.stored(piece, bytes);
  }

  private async finalize(job: Job, spec: TaskSpec): Promise<void> {
    const meta = job.state.meta!;
    // A complete cache whose pieces all verified against their records, none replaced, still has
    // the whole-file digest it was recorded with: no second read of the whole file.
    const unchanged = meta.complete && meta.fileDigest !== undefined && !this.digestOf(job, meta).touched;
    const fileDigest = unchanged ? meta.fileDigest! : await this.digestOf(job, meta).digest();
    if (spec.digest && spec.digest.toLowerCase() !== fileDigest) {
      throw new SourceError(`the source ${spec.url} has digest ${fileDigest}, not the expected ${spec.digest}; check --digest`, false);
    }
    meta.fileDigest = fileDigest;
    meta.complete = true;
    // Recorded before it is announced: a supernode restarted after `cdn-done` finds the whole
    // file in its cache, with nothing to fetch again.
    await this.persist(job, meta);
    this.deps.counters.fetchesCompleted++;
    job.emit({ kind: 'cdn-done', taskId: job.taskId, totalBytes: meta.totalBytes, fileDigest });
  }

  async refetchPiece(job: Job, piece: number): Promise<void> {
    const { meta, spec } = job.state;
    if (!meta || !spec || piece < 0 || piece >= meta.pieceCount) return;
    const wasComplete = meta.complete;
    try {
      if (meta.acceptRanges) await this.withRetry(job, () => this.fetchRun(job, spec, meta, { first: piece, end: piece + 1 }, true));
      else await this.withRetry(job, () => this.streamWhole(job, spec, meta.pieceSizeSetting, meta));
      // The same bytes are back (digests or validators were checked): the cache is whole again.
      if (wasComplete && meta.pieces.every((record) => record !== null)) {
        meta.complete = true;
        await this.persist(job, meta);
      }
    } catch (err) {
      if (err instanceof CancelledError) return;
      const failure = asSourceError(err);
      job.emit({ kind: 'cdn-failed', taskId: job.taskId, reason: `refetching a lost piece failed: ${failure.message}`, ...(failure.status !== undefined ? { status: failure.status } : {}) });
    }
  }

  async withRetry<T>(job: Job, attempt: () => Promise<T>): Promise<T> {
    for (let tried = 1; ; tried++) {
      try {
        return await attempt();
      } catch (err) {
        if (err instanceof CancelledError || job.signal.aborted) throw new CancelledError();
        const failure = asSourceError(err);
        const delayMs = sourceRetryDelayMs(this.deps.core, tried, failure.retryable);
        if (delayMs === null) throw failure;
        this.deps.log('info', `retrying (${tried}/${this.deps.core.sourceFetchAttempts - 1}) in ${delayMs} ms after: ${failure.message}`);
        await sleep(delayMs, job.signal);
      }
    }
  }

  /** The running whole-file digest of this version of the file (a new meta starts a new one). */
  private digestOf(job: Job, meta: CacheMeta): FileDigest {
    if (job.state.digest?.meta !== meta) job.state.digest = new FileDigest(this.deps.store, this.deps.pool, job.taskId, meta);
    return job.state.digest;
  }

  /**
   * Write the meta file: at most one write running and one queued, each writing the state at the
   * moment it starts, so a run of stored pieces costs a few writes, not one each (the meta of a
   * 200 GiB file lists 13,000 pieces).
   */
  private persist(job: Job, meta: CacheMeta): Promise<void> {
    const state = job.state;
    if (state.saveTimer) clearTimeout(state.saveTimer);
    state.saveTimer = null;
    if (state.saveQueued) return state.saving;
    state.saveQueued = true;
    const save = state.saving.catch(() => undefined).then(() => {
      state.saveQueued = false;
      return job.signal.aborted ? undefined : this.deps.store.saveMeta(job.taskId, meta);
    });
    state.saving = save;
    return save;
  }

  /**
   * Write the meta file within META_SAVE_INTERVAL_MS (a failed write is logged; the next write,
   * at the latest the one that completes the file, writes the whole state again).
   */
  private persistSoon(job: Job, meta: CacheMeta): void {
    const state = job.state;
    if (state.saveTimer || state.saveQueued) return;
    state.saveTimer = setTimeout(() => {
      // The task's meta when the timer fires (a source that changed meanwhile has a new one).
      this.persist(job, state.meta ?? meta).catch((err: Error) => this.deps.log('warn', `cannot record stored pieces of task ${job.taskId}: ${err.message}`));
    }, META_SAVE_INTERVAL_MS);
    state.saveTimer.unref();
  }
}

function planOf(meta: CacheMeta): PiecePlan {
  return { totalBytes: meta.totalBytes, pieceSizeBytes: meta.pieceSizeBytes, pieceCount: meta.pieceCount };
}

function emptyMeta(url: string, pieceSizeSetting: number): CacheMeta {
  return { url: redactCredentials(url), acceptRanges: false, totalBytes: 0, pieceSizeBytes: 0, pieceCount: 0, pieceSizeSetting, pieces: [], complete: false };
}

export function conditionalHeaders(meta: CacheMeta): Record<string, string> {
  return {
    ...(meta.etag ? { 'if-none-match': meta.etag } : {}),
    ...(meta.lastModified ? { 'if-modified-since': meta.lastModified } : {}),
  };
}

function changedError(url: string, detail: string): SourceError {
  return new SourceError(`the source ${url} changed during the fetch (${detail}); run the download again`, false);
}

function asSourceError(err: unknown): SourceError {
  if (err instanceof SourceError) return err;
  return new SourceError(`CDN storage failed: ${(err as Error).message}; check the supernode's --home disk`, false);
}
