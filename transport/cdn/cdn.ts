/**
 * The supernode's CDN: carries out the core's cdn-* effects against real sources and disk, and
 * feeds the results back as supernode inputs. It decides nothing about scheduling; it moves bytes.
 *
 * Theory of operation. Work for one task runs strictly in order on that task's chain (fetch,
 * refetch, revalidate, removal), so a drop followed by a new fetch never interleaves with the
 * old one. `cdn-drop` bumps the task's generation and aborts its requests; anything a job of an
 * older generation would still report is swallowed, so the core never hears about a cache that
 * no longer exists. `check-auth` is independent of the cache and runs at once.
 *
 *   effect              source traffic                                  inputs fed back
 *   cdn-fetch           GET Range 0-0 [+ If-None-Match/If-Modified-Since  cdn-length, cdn-piece
 *                       when a cache is on disk]; 304 → reuse verified    (each piece as it lands),
 *                       pieces; 206 → a Range GET (If-Range) per run of  cdn-done | cdn-failed
 *                       missing pieces; 200 → stream the body into pieces
 *   cdn-refetch-piece   Range GET of that piece (or the whole stream)     cdn-piece | cdn-failed
 *   cdn-revalidate      conditional GET Range 0-0                         cdn-validated
 *   check-auth          GET Range 0-0 with the requester's headers        auth-result
 *   cdn-drop            -   (cache directory removed)                     -
 *   servePiece (data)   -   (piece re-verified against its record)        cdn-piece-lost if bad
 *
 * Every request has the client's idle timeout; retryable failures (cut connections, timeouts,
 * 5xx, short bodies) are retried `attempts` times with growing delays, then reported.
 */
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { pieceBytes, pieceRange, planPieces, type PiecePlan } from '../../core/pieces.ts';
import type { PeerId, TaskId, TaskSpec } from '../../core/protocol.ts';
import type { SupernodeEffect, SupernodeInput } from '../../core/supernode-io.ts';
import type { BufferPool } from '../supernode/buffer-pool.ts';
import type { LogLevel } from '../supernode/log.ts';
import { type CacheMeta, type CdnStore } from './cdn-store.ts';
import {
  CancelledError, parseContentRange, sleep, SourceError, statusError, type SourceClient, type SourceResponse,
} from './source-client.ts';

export type CdnEffect = Extract<SupernodeEffect, { kind: 'cdn-fetch' | 'cdn-refetch-piece' | 'cdn-revalidate' | 'cdn-drop' | 'check-auth' }>;

export interface CdnOptions {
  store: CdnStore;
  client: SourceClient;
  /** Deliver an input to the supernode machine (the driver applies and drains it). */
  feed: (input: SupernodeInput) => void;
  log: (level: LogLevel, message: string) => void;
  /** Range requests in flight per task. */
  concurrency: number;
  /** Piece-sized buffers, reused (shared with the data plane). */
  pool: BufferPool;
  /** Tries per request for retryable failures. */
  attempts: number;
  retryDelayMs: number;
}

interface TaskState {
  generation: number;
  abort: AbortController;
  spec: TaskSpec | null;
  meta: CacheMeta | null;
  chain: Promise<void>;
  saving: Promise<void>;
}

/** One job's view: its generation's signal and an emitter that goes quiet once the task is dropped. */
interface Job {
  taskId: TaskId;
  state: TaskState;
  signal: AbortSignal;
  emit: (input: SupernodeInput) => void;
}

const PROBE = { range: 'bytes=0-0' };

export class Cdn {
  private readonly tasks = new Map<TaskId, TaskState>();
  piecesStored = 0;
  piecesLost = 0;
  fetchesCompleted = 0;

  constructor(private readonly opts: CdnOptions) {}

  handle(effect: CdnEffect): void {
    switch (effect.kind) {
      case 'cdn-fetch':
        this.enqueue(effect.taskId, (job) => this.fetchTask(job, effect.task, effect.pieceSizeBytes));
        return;
      case 'cdn-refetch-piece':
        this.enqueue(effect.taskId, (job) => this.refetchPiece(job, effect.piece));
        return;
      case 'cdn-revalidate':
        this.enqueue(effect.taskId, (job) => this.revalidate(job, effect.task));
        return;
      case 'cdn-drop': {
        const state = this.stateOf(effect.taskId);
        state.generation++;
        state.abort.abort();
        state.abort = new AbortController();
        state.meta = null;
        state.spec = null;
        this.enqueue(effect.taskId, () => this.opts.store.remove(effect.taskId));
        return;
      }
      case 'check-auth':
        void this.checkAuth(effect.taskId, effect.peerId, effect.task);
        return;
    }
  }

  /** Abort every running fetch (shutdown); nothing more is reported. */
  close(): void {
    for (const state of this.tasks.values()) {
      state.generation++;
      state.abort.abort();
    }
  }

  /** Pieces in the task's plan, once the CDN knows the length. */
  pieceCountOf(taskId: TaskId): number | null {
    return this.tasks.get(taskId)?.meta?.pieceCount ?? null;
  }

  /**
   * A cached piece's bytes for the data plane, re-verified against what was recorded when it was
   * fetched, read into `into(sizeBytes)` when given (a reused frame buffer) or a new buffer. A
   * missing or corrupt piece is reported (`cdn-piece-lost`); the core stops assigning it and asks
   * for a refetch, and ignores repeats while the piece is away.
   */
  async servePiece(taskId: TaskId, piece: number, into?: (sizeBytes: number) => Buffer): Promise<Buffer | null> {
    const state = this.tasks.get(taskId);
    const record = state?.meta?.pieces[piece];
    if (!state || !record) return null;
    const generation = state.generation;
    const target = into ? into(record.sizeBytes) : Buffer.allocUnsafe(record.sizeBytes);
    if (await this.opts.store.readVerifiedInto(taskId, piece, record, target)) return target;
    if (state.generation === generation) {
      this.piecesLost++;
      this.opts.log('warn', `cached piece ${piece} of task ${taskId.slice(0, 12)} is missing or corrupt; refetching it`);
      this.opts.feed({ kind: 'cdn-piece-lost', taskId, piece });
    }
    return null;
  }

  private stateOf(taskId: TaskId): TaskState {
    let state = this.tasks.get(taskId);
    if (!state) {
      state = { generation: 0, abort: new AbortController(), spec: null, meta: null, chain: Promise.resolve(), saving: Promise.resolve() };
      this.tasks.set(taskId, state);
    }
    return state;
  }

  private enqueue(taskId: TaskId, work: (job: Job) => Promise<void>): void {
    const state = this.stateOf(taskId);
    const generation = state.generation;
    const signal = state.abort.signal;
    const job: Job = {
      taskId, state, signal,
      emit: (input) => { if (state.generation === generation) this.opts.feed(input); },
    };
    state.chain = state.chain.then(async () => {
      if (state.generation !== generation) return;
      try {
        await work(job);
      } catch (err) {
        if (!(err instanceof CancelledError)) this.opts.log('error', `CDN job for task ${taskId.slice(0, 12)} crashed: ${(err as Error).stack ?? err}`);
      }
    });
  }

  // ---- fetch ----

  private async fetchTask(job: Job, spec: TaskSpec, pieceSizeSetting: number): Promise<void> {
    const { store } = this.opts;
    job.state.spec = spec;
    let meta = await store.loadMeta(job.taskId);
    if (meta && (meta.url !== spec.url || meta.pieceSizeSetting !== pieceSizeSetting)) {
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
      this.opts.log('warn', `fetching ${spec.url} for task ${job.taskId.slice(0, 12)} failed: ${failure.message}`);
      job.emit({ kind: 'cdn-failed', taskId: job.taskId, reason: failure.message, ...(failure.status !== undefined ? { status: failure.status } : {}) });
    }
  }

  /** One pass: probe the source, reuse what is intact, fetch what is missing. Safe to repeat. */
  private async fetchOnce(job: Job, spec: TaskSpec, pieceSizeSetting: number): Promise<void> {
    const cached = job.state.meta;
    const res = await this.opts.client.get(spec.url, spec.headers, { ...PROBE, ...(cached ? conditionalHeaders(cached) : {}) }, job.signal);
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
    if (cached) await this.opts.store.remove(job.taskId);
    const plan = planPieces(totalBytes, pieceSizeSetting);
    const meta: CacheMeta = {
      url: spec.url, etag, lastModified, acceptRanges, totalBytes, pieceSizeBytes: plan.pieceSizeBytes,
      pieceCount: plan.pieceCount, pieceSizeSetting, pieces: new Array(plan.pieceCount).fill(null), complete: false,
    };
    job.state.meta = meta;
    await this.persist(job, meta);
    return meta;
  }

  /** Tell the core the length, then every piece already intact on disk. */
  private async announce(job: Job, meta: CacheMeta): Promise<void> {
    job.emit({ kind: 'cdn-length', taskId: job.taskId, totalBytes: meta.totalBytes });
    const intact = await this.opts.store.intactPieces(job.taskId, meta);
    if (job.signal.aborted) throw new CancelledError('cancelled');
    for (const piece of intact) job.emit({ kind: 'cdn-piece', taskId: job.taskId, piece, digest: meta.pieces[piece]!.digest });
  }

  /**
   * Fetch the missing pieces as runs of contiguous pieces, one ranged GET per run, cut into pieces
   * as the bytes arrive (a request per piece cost more than the transfer on loopback). Runs are
   * split until there are `concurrency` of them, so a fresh file arrives in parallel streams.
   */
  private async fetchMissingByRange(job: Job, spec: TaskSpec): Promise<void> {
    const meta = job.state.meta!;
    const runs = splitRuns(missingRuns(meta), this.opts.concurrency);
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
    const results = await Promise.allSettled(Array.from({ length: Math.min(this.opts.concurrency, runs.length) }, worker));
    const rejected = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (rejected) throw rejected.reason;
  }

  /**
   * One ranged GET for pieces [run.first, run.end). A retry resumes after the pieces already
   * stored; `refetch` stores pieces that are on record too (their digests must not change).
   */
  private async fetchRun(job: Job, spec: TaskSpec, meta: CacheMeta, run: Run, refetch: boolean): Promise<void> {
    let first = run.first;
    while (!refetch && first < run.end && meta.pieces[first]) first++;
    if (first >= run.end) return;
    const plan = planOf(meta);
    const startByte = pieceRange(plan, first).startByte;
    const endByte = pieceRange(plan, run.end - 1).endByte;
    const validator = meta.etag ?? meta.lastModified;
    const res = await this.opts.client.get(spec.url, spec.headers,
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
    const received = await this.cutIntoPieces(job, meta, res, first, run.end, !refetch);
    if (received !== endByte - startByte) {
      throw new SourceError(`the source ${spec.url} sent ${received} of the ${endByte - startByte} bytes asked for`, true, 206);
    }
  }

  /**
   * Store the body's bytes as pieces [first, end) as each one fills, through one reused buffer;
   * `skipRecorded` leaves pieces already on record untouched. Returns the body bytes received
   * (bytes past piece `end` are counted, not stored).
   */
  private async cutIntoPieces(job: Job, meta: CacheMeta, res: SourceResponse, first: number, end: number,
    skipRecorded: boolean): Promise<number> {
    const plan = planOf(meta);
    const buffer = this.opts.pool.acquire(meta.pieceSizeBytes);
    const sizeOf = (piece: number): number => (piece < end ? pieceBytes(plan, piece) : 0);
    let piece = first;
    let size = sizeOf(piece);
    let filled = 0;
    let received = 0;
    try {
      for await (const chunk of res.chunks()) {
        received += chunk.length;
        let at = 0;
        while (at < chunk.length && piece < end) {
          const take = Math.min(size - filled, chunk.length - at);
          chunk.copy(buffer, filled, at, at + take);
          filled += take;
          at += take;
          if (filled === size) {
            if (!(skipRecorded && meta.pieces[piece])) await this.storePiece(job, meta, piece, buffer.subarray(0, size));
            piece++;
            size = sizeOf(piece);
            filled = 0;
          }
        }
      }
    } finally {
      this.opts.pool.release(buffer);
    }
    return received;
  }

  /**
   * A source without ranges: GET the whole file again (no validators: we need the body).
   * `expect` = the cache must still match the source (refetching one lost piece).
   */
  private async streamWhole(job: Job, spec: TaskSpec, pieceSizeSetting: number, expect?: CacheMeta): Promise<void> {
    const res = await this.opts.client.get(spec.url, spec.headers, {}, job.signal);
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
    const received = await this.cutIntoPieces(job, meta, res, 0, meta.pieceCount, true);
    if (received !== totalBytes) {
      throw new SourceError(`the source ${spec.url} sent ${received} bytes but announced ${totalBytes} (Content-Length)`, true, 200);
    }
  }

  private async spoolBody(job: Job, spec: TaskSpec, pieceSizeSetting: number, res: SourceResponse, expect?: CacheMeta): Promise<void> {
    const { store } = this.opts;
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
    if (job.signal.aborted) throw new CancelledError('cancelled');
    const record = await this.opts.store.writePiece(job.taskId, piece, bytes);
    const previous = meta.pieces[piece];
    if (previous && previous.digest !== record.digest) {
      throw changedError(meta.url, `piece ${piece} now has ${record.digest}, it had ${previous.digest}`);
    }
    meta.pieces[piece] = record;
    this.piecesStored++;
    await this.persist(job, meta);
    job.emit({ kind: 'cdn-piece', taskId: job.taskId, piece, digest: record.digest });
  }

  private async finalize(job: Job, spec: TaskSpec): Promise<void> {
    const meta = job.state.meta!;
    const buffer = this.opts.pool.acquire(meta.pieceSizeBytes);
    let fileDigest: string;
    try {
      fileDigest = await this.opts.store.fileDigest(job.taskId, planOf(meta), buffer);
    } finally {
      this.opts.pool.release(buffer);
    }
    if (spec.digest && spec.digest.toLowerCase() !== fileDigest) {
      throw new SourceError(`the source ${spec.url} has digest ${fileDigest}, not the expected ${spec.digest}; check --digest`, false);
    }
    meta.fileDigest = fileDigest;
    meta.complete = true;
    await this.persist(job, meta);
    this.fetchesCompleted++;
    job.emit({ kind: 'cdn-done', taskId: job.taskId, totalBytes: meta.totalBytes, fileDigest });
  }

  // ---- refetch, revalidate, auth ----

  private async refetchPiece(job: Job, piece: number): Promise<void> {
    const { meta, spec } = job.state;
    if (!meta || !spec || piece < 0 || piece >= meta.pieceCount) return;
    try {
      if (meta.acceptRanges) await this.withRetry(job, () => this.fetchRun(job, spec, meta, { first: piece, end: piece + 1 }, true));
      else await this.withRetry(job, () => this.streamWhole(job, spec, meta.pieceSizeSetting, meta));
    } catch (err) {
      if (err instanceof CancelledError) return;
      const failure = asSourceError(err);
      job.emit({ kind: 'cdn-failed', taskId: job.taskId, reason: `refetching a lost piece failed: ${failure.message}`, ...(failure.status !== undefined ? { status: failure.status } : {}) });
    }
  }

  private async revalidate(job: Job, spec: TaskSpec): Promise<void> {
    const meta = job.state.meta ?? await this.opts.store.loadMeta(job.taskId);
    if (!meta?.complete) {
      job.emit({ kind: 'cdn-validated', taskId: job.taskId, changed: true });
      return;
    }
    try {
      const res = await this.withRetry(job, () => this.opts.client.get(spec.url, spec.headers, { ...PROBE, ...conditionalHeaders(meta) }, job.signal));
      await res.discard();
      const sameValidators = (res.status === 200 || res.status === 206)
        && (res.headers.get('etag') ?? undefined) === meta.etag && (res.headers.get('last-modified') ?? undefined) === meta.lastModified
        && (meta.etag !== undefined || meta.lastModified !== undefined);
      const changed = !(res.status === 304 || sameValidators);
      this.opts.log('info', `revalidated ${spec.url}: HTTP ${res.status}, ${changed ? 'changed: fetching anew' : 'unchanged: reusing the cache'}`);
      job.emit({ kind: 'cdn-validated', taskId: job.taskId, changed });
    } catch (err) {
      if (err instanceof CancelledError) return;
      // An unreachable source does not make a verified cache wrong: keep serving it.
      this.opts.log('warn', `could not revalidate ${spec.url} (${(err as Error).message}); reusing the cache`);
      job.emit({ kind: 'cdn-validated', taskId: job.taskId, changed: false });
    }
  }

  private async checkAuth(taskId: TaskId, peerId: PeerId, spec: TaskSpec): Promise<void> {
    const state = this.stateOf(taskId);
    const generation = state.generation;
    let allowed = false;
    let reason: string | undefined;
    try {
      const res = await this.opts.client.get(spec.url, spec.headers, PROBE, state.abort.signal);
      await res.discard();
      allowed = res.status === 200 || res.status === 206;
      if (!allowed) reason = statusError(res.status, spec.url).message;
    } catch (err) {
      if (err instanceof CancelledError) return;
      reason = `could not check your credentials with the source: ${(err as Error).message}`;
    }
    if (state.generation === generation) this.opts.feed({ kind: 'auth-result', taskId, peerId, allowed, ...(reason ? { reason } : {}) });
  }

  // ---- helpers ----

  private async withRetry<T>(job: Job, attempt: () => Promise<T>): Promise<T> {
    for (let tried = 1; ; tried++) {
      try {
        return await attempt();
      } catch (err) {
        if (err instanceof CancelledError || job.signal.aborted) throw new CancelledError('cancelled');
        const failure = asSourceError(err);
        if (!failure.retryable || tried >= this.opts.attempts) throw failure;
        this.opts.log('info', `retrying (${tried}/${this.opts.attempts - 1}) after: ${failure.message}`);
        await sleep(this.opts.retryDelayMs * 2 ** (tried - 1), job.signal);
      }
    }
  }

  private persist(job: Job, meta: CacheMeta): Promise<void> {
    const save = job.state.saving.then(() => (job.signal.aborted ? undefined : this.opts.store.saveMeta(job.taskId, meta)));
    job.state.saving = save.catch(() => undefined);
    return save;
  }
}

/** Pieces [first, end). */
interface Run { first: number; end: number }

function missingRuns(meta: CacheMeta): Run[] {
  const runs: Run[] = [];
  for (let piece = 0; piece < meta.pieceCount; piece++) {
    if (meta.pieces[piece]) continue;
    const last = runs[runs.length - 1];
    if (last && last.end === piece) last.end++; else runs.push({ first: piece, end: piece + 1 });
  }
  return runs;
}

/** Halve the longest run until there are `count` runs (or every run is one piece). */
export function splitRuns(runs: Run[], count: number): Run[] {
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

function planOf(meta: CacheMeta): PiecePlan {
  return { totalBytes: meta.totalBytes, pieceSizeBytes: meta.pieceSizeBytes, pieceCount: meta.pieceCount };
}

function emptyMeta(url: string, pieceSizeSetting: number): CacheMeta {
  return { url, acceptRanges: false, totalBytes: 0, pieceSizeBytes: 0, pieceCount: 0, pieceSizeSetting, pieces: [], complete: false };
}

function conditionalHeaders(meta: CacheMeta): Record<string, string> {
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
