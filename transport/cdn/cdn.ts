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
 *   cdn-fetch           probe, then ranged or streamed GETs of what is    cdn-length, cdn-piece (each
 *                       not intact on disk (source-fetcher.ts)            as it lands), cdn-done |
 *                                                                         cdn-failed
 *   cdn-refetch-piece   Range GET of that piece (or the whole stream)     cdn-piece | cdn-failed
 *   cdn-verify-piece    -   (the piece read whole and hashed again)       cdn-piece-intact | cdn-piece-lost
 *   cdn-revalidate      conditional GET Range 0-0                         cdn-validated
 *   check-auth          GET Range 0-0 with the requester's headers        auth-result
 *   cdn-drop            -   (cache directory removed)                     -
 *   servePiece (data)   -   (piece re-verified against its record)        cdn-piece-lost if bad
 *
 * Every request has the client's idle timeout. How the missing pieces are cut into ranged GETs,
 * how many run at once and when a retryable failure (cut connection, timeout, 5xx, short body) is
 * tried again are the core's decisions (core/source-fetch.ts), with the supernode's settings
 * `sourceFetchConcurrency`, `sourceFetchAttempts` and `sourceRetryDelayMs`.
 */
import type { CoreConfig } from '../../core/config.ts';
import type { PeerId, TaskId, TaskSpec } from '../../core/protocol.ts';
import type { SupernodeEffect, SupernodeInput } from '../../core/supernode-io.ts';
import type { BufferPool } from '../buffer-pool.ts';
import type { LogLevel } from '../supernode/log.ts';
import type { CdnStore } from './cdn-store.ts';
import { CancelledError } from '../real-timer.ts';
import { statusError, type SourceClient } from './source-client.ts';
import { conditionalHeaders, PROBE, SourceFetcher, type Job, type TaskState } from './source-fetcher.ts';

export type CdnEffect = Extract<SupernodeEffect, { kind: 'cdn-fetch' | 'cdn-refetch-piece' | 'cdn-verify-piece' | 'cdn-revalidate' | 'cdn-drop' | 'check-auth' }>;

export interface CdnOptions {
  store: CdnStore;
  client: SourceClient;
  /** Deliver an input to the supernode machine (the driver applies and drains it). */
  feed: (input: SupernodeInput) => void;
  log: (level: LogLevel, message: string) => void;
  /** The supernode's settings: how sources are fetched (runs at once, tries, retry delay). */
  core: Pick<CoreConfig, 'sourceFetchConcurrency' | 'sourceFetchAttempts' | 'sourceRetryDelayMs'>;
  /** Piece-sized buffers, reused (shared with the data plane). */
  pool: BufferPool;
}

export class Cdn {
  private readonly tasks = new Map<TaskId, TaskState>();
  private readonly fetcher: SourceFetcher;
  readonly counters = { piecesStored: 0, fetchesCompleted: 0 };
  piecesLost = 0;

  constructor(private readonly opts: CdnOptions) {
    this.fetcher = new SourceFetcher({ ...opts, counters: this.counters });
  }

  handle(effect: CdnEffect): void {
    switch (effect.kind) {
      case 'cdn-fetch':
        this.enqueue(effect.taskId, (job) => this.fetcher.fetchTask(job, effect.task, effect.pieceSizeBytes));
        return;
      case 'cdn-refetch-piece':
        this.enqueue(effect.taskId, (job) => this.fetcher.refetchPiece(job, effect.piece));
        return;
      case 'cdn-revalidate':
        this.enqueue(effect.taskId, (job) => this.revalidate(job, effect.task));
        return;
      case 'cdn-verify-piece':
        void this.verifyPiece(effect.taskId, effect.piece);
        return;
      case 'cdn-drop':
        forgetState(this.stateOf(effect.taskId));
        this.enqueue(effect.taskId, () => this.opts.store.remove(effect.taskId));
        return;
      case 'check-auth':
        void this.checkAuth(effect.taskId, effect.peerId, effect.task);
        return;
    }
  }

  /**
   * The store is evicting the task's files (cdn-store.ts `onEvicted`): forget it as `cdn-drop`
   * does, so no job of it reports again, with nothing left to remove.
   */
  forget(taskId: TaskId): void {
    const state = this.tasks.get(taskId);
    if (!state) return;
    forgetState(state);
    if (state.pending === 0) this.tasks.delete(taskId);
  }

  /**
   * Abort every running fetch (shutdown); nothing more is reported. Pieces already stored stay
   * recorded: a meta write that was due (source-fetcher.ts `persistSoon`) is made now, and running
   * ones finish, so a supernode stopped right after a download resumes its cache on restart rather
   * than fetching pieces it has on disk again.
   */
  async close(): Promise<void> {
    const writes: Promise<unknown>[] = [];
    for (const [taskId, state] of this.tasks) {
      const meta = state.meta;
      if (state.saveTimer && meta) {
        clearTimeout(state.saveTimer);
        state.saveTimer = null;
        writes.push(state.saving.catch(() => undefined).then(() => this.opts.store.saveMeta(taskId, meta)));
      } else writes.push(state.saving);
      state.generation++;
      state.abort.abort();
    }
    const results = await Promise.allSettled(writes);
    for (const result of results) {
      if (result.status === 'rejected') this.opts.log('warn', `cannot record stored pieces at shutdown: ${(result.reason as Error).message}`);
    }
  }

  /** Jobs queued or running, over all tasks (0: the CDN is settled). */
  get jobsRunning(): number {
    let jobs = 0;
    for (const state of this.tasks.values()) jobs += state.pending;
    return jobs;
  }

  /** Tasks the CDN holds state for (finite: dropped tasks are forgotten). */
  get trackedTasks(): number { return this.tasks.size; }

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

  /**
   * Peers report this cached piece corrupt: read it whole and hash it, whatever the verification
   * memory says (bit rot keeps a file's size and mtime, which is all that memory can see).
   */
  private async verifyPiece(taskId: TaskId, piece: number): Promise<void> {
    const state = this.tasks.get(taskId);
    const record = state?.meta?.pieces[piece];
    if (!state || !record) return;
    const generation = state.generation;
    const target = this.opts.pool.acquire(record.sizeBytes);
    try {
      const intact = await this.opts.store.readVerifiedInto(taskId, piece, record, target.subarray(0, record.sizeBytes), true);
      if (state.generation !== generation) return;
      if (intact) return this.opts.feed({ kind: 'cdn-piece-intact', taskId, piece });
      this.piecesLost++;
      this.opts.log('warn', `cached piece ${piece} of task ${taskId.slice(0, 12)} failed its check after peers reported it corrupt; refetching it`);
      this.opts.feed({ kind: 'cdn-piece-lost', taskId, piece });
    } finally {
      this.opts.pool.release(target);
    }
  }

  private stateOf(taskId: TaskId): TaskState {
    let state = this.tasks.get(taskId);
    if (!state) {
      state = {
        generation: 0, abort: new AbortController(), spec: null, meta: null, digest: null, chain: Promise.resolve(), pending: 0,
        saving: Promise.resolve(), saveQueued: false, saveTimer: null,
      };
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
    state.pending++;
    state.chain = state.chain.then(async () => {
      try {
        if (state.generation === generation) await work(job);
      } catch (err) {
        if (!(err instanceof CancelledError)) this.opts.log('error', `CDN job for task ${taskId.slice(0, 12)} crashed: ${(err as Error).stack ?? err}`);
      } finally {
        state.pending--;
        // A dropped task with nothing left to do is forgotten, so tasks that come and go leave no trace.
        if (state.pending === 0 && state.spec === null && state.meta === null && this.tasks.get(taskId) === state) this.tasks.delete(taskId);
      }
    });
  }

  // ---- revalidate, auth ----

  private async revalidate(job: Job, spec: TaskSpec): Promise<void> {
    const meta = job.state.meta ?? await this.opts.store.loadMeta(job.taskId);
    if (!meta?.complete) {
      job.emit({ kind: 'cdn-validated', taskId: job.taskId, changed: true });
      return;
    }
    try {
      const res = await this.fetcher.withRetry(job, () => this.opts.client.get(spec.url, spec.headers, { ...PROBE, ...conditionalHeaders(meta) }, job.signal));
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
    let status: number | undefined;
    try {
      const res = await this.opts.client.get(spec.url, spec.headers, PROBE, state.abort.signal);
      await res.discard();
      allowed = res.status === 200 || res.status === 206;
      if (!allowed) {
        reason = statusError(res.status, spec.url).message;
        status = res.status;
      }
    } catch (err) {
      if (err instanceof CancelledError) return;
      reason = `could not check your credentials with the source: ${(err as Error).message}`;
    }
    if (state.generation === generation) {
      this.opts.feed({ kind: 'auth-result', taskId, peerId, allowed, ...(reason ? { reason } : {}), ...(status !== undefined ? { status } : {}) });
    }
  }
}

/** A new generation with nothing known: jobs of the old one go quiet and their requests stop. */
function forgetState(state: TaskState): void {
  state.generation++;
  state.abort.abort();
  state.abort = new AbortController();
  state.meta = null;
  state.digest = null;
  state.spec = null;
}
