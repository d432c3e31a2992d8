/**
 * Preheat jobs: the supernode's table of requests to fetch files into its CDN before anyone asks.
 *
 * Theory of operation. A job is one request (preheat-api.ts): a file, or an image whose blobs the
 * driver finds by reading its manifests (`resolve-image`, answered by `image-resolved` or
 * `image-failed`). A job's files are tasks of the supernode machine: each is started with a
 * `preheat` effect (the driver feeds it to the `Supernode` as its `preheat` input), and the
 * `preheat-update`s that machine reports come back here as `task-update`, moving the file to
 * fetching, done or failed with its bytes. At most `maxFilesFetching` files (of all jobs) fetch at
 * once, the rest wait in job order; a file several jobs share is fetched once and counts for each.
 * A job succeeds when every file is done, fails when any failed (after the others ended) or when
 * it runs past `jobTimeoutMs`. Finished jobs are shown for `retainMs`, then forgotten.
 *
 * Bounded: at most `maxJobs` jobs are kept (a new one pushes out the oldest finished one) and
 * `maxActiveJobs` run at once; a job of more than `maxFilesPerJob` files fails. A request over a
 * limit is refused with the reason, never queued without bound.
 *
 *   input                      effects
 *   submit (files known)       accepted | refused; preheat (up to the fetch limit)
 *   submit (an image)          accepted | refused; resolve-image
 *   image-resolved             preheat ...            (or the job fails: too many files)
 *   image-failed               log                    (the job fails)
 *   task-update ready/failed   preheat (next waiting files); log when a job ends
 *   timeout                    log (jobs past jobTimeoutMs fail); finished jobs past retainMs go
 */
import { Clock, Outbox } from './drive.ts';
import type { TaskId, TaskSpec } from './protocol.ts';
import type { PreheatUpdate } from './supernode-io.ts';

export interface PreheatConfig {
  maxJobs: number;
  maxActiveJobs: number;
  maxFilesPerJob: number;
  maxFilesFetching: number;
  jobTimeoutMs: number;
  retainMs: number;
}

export const DEFAULT_PREHEAT: Readonly<PreheatConfig> = Object.freeze({
  maxJobs: 256,
  maxActiveJobs: 16,
  maxFilesPerJob: 1024,
  maxFilesFetching: 4,
  jobTimeoutMs: 60 * 60_000,
  retainMs: 60 * 60_000,
});

/** One file to fetch: the task a download of it would be (taskId hashed by the driver). */
export interface PreheatFile { taskId: TaskId; task: TaskSpec; label: string }

export type PreheatInput =
  /** `files` null: an image, whose files the driver resolves when asked. */
  | { kind: 'submit'; jobId: string; label: string; files: PreheatFile[] | null }
  | { kind: 'image-resolved'; jobId: string; files: PreheatFile[] }
  | { kind: 'image-failed'; jobId: string; reason: string }
  | { kind: 'task-update'; update: PreheatUpdate }
  | { kind: 'timeout' };

export type PreheatEffect =
  | { kind: 'accepted'; jobId: string }
  | { kind: 'refused'; jobId: string; reason: string }
  | { kind: 'resolve-image'; jobId: string }
  | { kind: 'preheat'; taskId: TaskId; task: TaskSpec }
  | { kind: 'log'; level: 'info' | 'warn'; message: string };

export type JobState = 'resolving' | 'running' | 'succeeded' | 'failed';
export type FileState = 'waiting' | 'fetching' | 'done' | 'failed';

export interface PreheatFileView { label: string; taskId: TaskId; state: FileState; bytesDone: number; totalBytes: number | null; error?: string }

/** What `GET /preheat/<id>` shows (no headers or credentials: they never leave the request). */
export interface PreheatJobView {
  id: string;
  label: string;
  state: JobState;
  error?: string;
  elapsedMs: number;
  filesDone: number;
  files: PreheatFileView[];
  bytesDone: number;
  /** null while a file's length is unknown. */
  totalBytes: number | null;
}

interface FileSlot extends PreheatFileView { task: TaskSpec }

interface Job {
  id: string;
  label: string;
  state: JobState;
  error?: string;
  createdAtMs: number;
  finishedAtMs: number | null;
  files: FileSlot[];
}

export class PreheatJobs {
  private readonly clock = new Clock();
  private readonly out = new Outbox<PreheatEffect>();
  /** In submission order: the oldest finished job is pushed out first. */
  private readonly jobs = new Map<string, Job>();
  /** Tasks started and not yet ended (shared by every job that lists them). */
  private readonly fetching = new Set<TaskId>();
  private readonly cfg: PreheatConfig;

  constructor(cfg: Partial<PreheatConfig> = {}) {
    this.cfg = { ...DEFAULT_PREHEAT, ...cfg };
  }

  poll(): PreheatEffect | undefined { return this.out.poll(); }

  nextDeadlineMs(): number | null {
    let next: number | null = null;
    for (const job of this.jobs.values()) {
      const at = job.finishedAtMs === null ? job.createdAtMs + this.cfg.jobTimeoutMs : job.finishedAtMs + this.cfg.retainMs;
      if (next === null || at < next) next = at;
    }
    return next;
  }

  handle(nowMs: number, input: PreheatInput): void {
    this.clock.advance(nowMs);
    switch (input.kind) {
      case 'submit': return this.submit(nowMs, input.jobId, input.label, input.files);
      case 'image-resolved': {
        const job = this.jobs.get(input.jobId);
        if (job?.state !== 'resolving') return;
        return this.run(nowMs, job, input.files);
      }
      case 'image-failed': {
        const job = this.jobs.get(input.jobId);
        if (job?.state === 'resolving') this.finish(nowMs, job, `cannot read the image: ${input.reason}`);
        return;
      }
      case 'task-update': return this.onUpdate(nowMs, input.update);
      case 'timeout': return this.expire(nowMs);
    }
  }

  /** The job as `GET /preheat/<id>` shows it at `nowMs` (a read: the machine's clock does not move). */
  view(jobId: string, nowMs: number): PreheatJobView | null {
    const job = this.jobs.get(jobId);
    if (!job) return null;
    const files = job.files.map(({ task: _task, ...file }) => ({ ...file }));
    const known = files.every((f) => f.totalBytes !== null);
    return {
      id: job.id, label: job.label, state: job.state, ...(job.error !== undefined ? { error: job.error } : {}),
      elapsedMs: Math.max(0, (job.finishedAtMs ?? nowMs) - job.createdAtMs),
      filesDone: files.filter((f) => f.state === 'done').length, files,
      bytesDone: files.reduce((sum, f) => sum + f.bytesDone, 0),
      totalBytes: known && job.state !== 'resolving' ? files.reduce((sum, f) => sum + (f.totalBytes ?? 0), 0) : null,
    };
  }

  private submit(nowMs: number, jobId: string, label: string, files: PreheatFile[] | null): void {
    const refusal = this.makeRoom();
    if (refusal !== null || this.jobs.has(jobId)) {
      this.out.push({ kind: 'refused', jobId, reason: refusal ?? `job id ${jobId} is taken` });
      return;
    }
    const job: Job = { id: jobId, label, state: 'resolving', createdAtMs: nowMs, finishedAtMs: null, files: [] };
    this.jobs.set(jobId, job);
    this.out.push({ kind: 'accepted', jobId });
    if (files === null) this.out.push({ kind: 'resolve-image', jobId });
    else this.run(nowMs, job, files);
  }

  /** Null when a new job fits (after pushing out the oldest finished one if the table is full). */
  private makeRoom(): string | null {
    const active = [...this.jobs.values()].filter((j) => j.finishedAtMs === null).length;
    if (active >= this.cfg.maxActiveJobs) return `${active} preheat jobs are running, the limit; try again when one has finished`;
    if (this.jobs.size < this.cfg.maxJobs) return null;
    for (const job of this.jobs.values()) {
      if (job.finishedAtMs !== null) {
        this.jobs.delete(job.id);
        return null;
      }
    }
    return `the supernode keeps ${this.cfg.maxJobs} preheat jobs and none has finished; try again later`;
  }

  private run(nowMs: number, job: Job, files: PreheatFile[]): void {
    const unique = [...new Map(files.map((f) => [f.taskId, f])).values()];
    if (unique.length > this.cfg.maxFilesPerJob) {
      return this.finish(nowMs, job, `${unique.length} files to preheat; a job takes at most ${this.cfg.maxFilesPerJob}`);
    }
    job.state = 'running';
    job.files = unique.map((f) => ({ label: f.label, taskId: f.taskId, task: f.task, state: 'waiting', bytesDone: 0, totalBytes: null }));
    this.startWaiting();
    this.settle(nowMs, job);
  }

  /** Start waiting files, oldest job first, while fewer than maxFilesFetching tasks fetch. */
  private startWaiting(): void {
    for (const job of this.jobs.values()) {
      if (job.state !== 'running') continue;
      for (const file of job.files) {
        if (file.state !== 'waiting') continue;
        if (this.fetching.has(file.taskId)) {
          file.state = 'fetching';
          continue;
        }
        if (this.fetching.size >= this.cfg.maxFilesFetching) return;
        this.fetching.add(file.taskId);
        file.state = 'fetching';
        this.out.push({ kind: 'preheat', taskId: file.taskId, task: file.task });
      }
    }
  }

  private onUpdate(nowMs: number, update: PreheatUpdate): void {
    if (update.state !== 'fetching') this.fetching.delete(update.taskId);
    for (const job of this.jobs.values()) {
      if (job.state !== 'running') continue;
      let touched = false;
      for (const file of job.files) {
        if (file.taskId !== update.taskId || file.state !== 'fetching') continue;
        touched = true;
        file.bytesDone = update.bytesDone;
        file.totalBytes = update.totalBytes;
        if (update.state === 'ready') file.state = 'done';
        if (update.state === 'failed') {
          file.state = 'failed';
          file.error = update.reason ?? 'the supernode gave up on it';
        }
      }
      if (touched) this.settle(nowMs, job);
    }
    if (update.state !== 'fetching') this.startWaiting();
  }

  /** A running job whose files have all ended is finished: succeeded, or failed naming the first failure. */
  private settle(nowMs: number, job: Job): void {
    if (job.files.some((f) => f.state === 'waiting' || f.state === 'fetching')) return;
    const failedFiles = job.files.filter((f) => f.state === 'failed');
    if (failedFiles.length === 0) return this.finish(nowMs, job);
    this.finish(nowMs, job, `${failedFiles.length} of ${job.files.length} files failed; first ${failedFiles[0].label}: ${failedFiles[0].error}`);
  }

  private finish(nowMs: number, job: Job, error?: string): void {
    job.state = error === undefined ? 'succeeded' : 'failed';
    if (error !== undefined) job.error = error;
    job.finishedAtMs = nowMs;
    for (const file of job.files) {
      if (file.state !== 'waiting' && file.state !== 'fetching') continue;
      // A fetch slot is held for a task only while some running job still waits on it.
      if (file.state === 'fetching' && !this.awaited(file.taskId, job)) this.fetching.delete(file.taskId);
      file.state = 'failed';
      file.error = 'the job ended first';
    }
    const bytes = job.files.reduce((sum, f) => sum + f.bytesDone, 0);
    this.out.push({
      kind: 'log', level: error === undefined ? 'info' : 'warn',
      message: `preheat ${job.id} (${job.label}) ${job.state}: ${job.files.length} files, ${bytes} bytes in ${nowMs - job.createdAtMs} ms${error ? `; ${error}` : ''}`,
    });
  }

  private awaited(taskId: TaskId, except: Job): boolean {
    for (const job of this.jobs.values()) {
      if (job !== except && job.state === 'running' && job.files.some((f) => f.taskId === taskId && f.state === 'fetching')) return true;
    }
    return false;
  }

  private expire(nowMs: number): void {
    for (const job of [...this.jobs.values()]) {
      if (job.finishedAtMs === null && nowMs >= job.createdAtMs + this.cfg.jobTimeoutMs) {
        this.finish(nowMs, job, `did not finish within ${this.cfg.jobTimeoutMs} ms`);
        this.startWaiting();
      } else if (job.finishedAtMs !== null && nowMs >= job.finishedAtMs + this.cfg.retainMs) {
        this.jobs.delete(job.id);
      }
    }
  }
}
