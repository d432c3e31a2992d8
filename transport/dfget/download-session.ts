/**
 * One download, driven in real time: the thin driver around core `Peer`, hosted by `MachineHost`
 * (one timer, every effect drained after every input, a fault ends the download loudly).
 *
 * Theory of operation. Every protocol decision is the core's; the session turns its effects into
 * work for its parts and their results back into inputs:
 *
 *   effect          part (file)                                      input fed back
 *   send            supernode links (supernode-link.ts)              supernode-message / supernode-down
 *   settings        uploader link: reconfigure this home's uploader  -
 *   trust           uploader link: accept grants signed by the key   -
 *   plan            disk writer: size the data file; uploader: list  -
 *   fetch-piece     piece fetcher (piece-fetcher.ts): rate limits,   piece-fetched {digest | failure}
 *                   data-plane request, SHA-256 of the bytes
 *   cancel-fetch    piece fetcher: abort; the answer is dropped      -
 *   write-piece     disk writer (disk-writer.ts): write, record,     write-failed (on I/O error)
 *                   hash the verified prefix, tell the uploader
 *   fetch-source    back to source (back-to-source.ts): the missing  source-fetched
 *                   ranges, or the whole file
 *   done            completion (completion.ts): digest, backup,      -
 *                   move, seed
 *   failed          the user's error (download-error.ts)             -
 *
 * The settings the supernode sent (or the defaults) are what the download reports it ran with.
 */
import type { ByteRange, PeerEffect, PeerInput } from '../../core/peer-io.ts';
import { Peer } from '../../core/peer.ts';
import { piecesIn } from '../../core/piece-ranges.ts';
import { pieceRange, type PiecePlan } from '../../core/pieces.ts';
import type { TaskSpec } from '../../core/protocol.ts';
import type { MachineHost } from '../../core/runtime.ts';
import { TokenBucket } from '../../core/token-bucket.ts';
import { newPeerId } from '../peer-id.ts';
import { describeFault, hostInRealTime, monotonicNowMs, sleep } from '../real-timer.ts';
import { taskIdFor } from '../task-id.ts';
import { downloadFromSource, type SourceDownload } from './back-to-source.ts';
import { completeDownload } from './completion.ts';
import { DiskWriter } from './disk-writer.ts';
import { DownloadError, failureError, isDiskFull, isLocalFileError, writeError } from './download-error.ts';
import { uploadRateOf, type DownloadRequest, type DownloadResult, type EffectiveSettings } from './download-request.ts';
import { fileLogger, homeLayout, prepareHome, writeNodeMeta, type LogFn } from './home.ts';
import { PieceFetcher } from './piece-fetcher.ts';
import { SourceError } from './source-fetch.ts';
import { SupernodeLinks } from './supernode-link.ts';
import { TaskStore, type ResumeState } from './task-store.ts';
import { UploaderLink } from './uploader-link.ts';
import { WholeFileDigest } from './whole-file-digest.ts';

/** Extra knobs for tests and benchmarks; the CLI exposes them as hidden flags. */
export interface SessionTuning {
  /** `--idle-exit` of a background uploader this run starts. */
  uploaderIdleExit?: string;
  /** Host other peers dial to reach this node's uploader. */
  uploadHost?: string;
  /** Log destination override (default `<home>/logs/dfclient.log`). */
  log?: LogFn;
  /** `--data-max` of a background uploader this run starts. */
  dataMax?: string;
}

/** What is settled before the first input: what is fetched, by whom, into which files. */
interface Setup {
  req: DownloadRequest;
  log: LogFn;
  logFile: string;
  taskId: string;
  spec: TaskSpec;
  peerId: string;
  store: TaskStore;
  resume: ResumeState | null;
  uploader: UploaderLink;
  uploadAddr: string;
  startedMs: number;
}

type Effect<K extends PeerEffect['kind']> = Extract<PeerEffect, { kind: K }>;

/** A resume record's size beyond its per-piece digests (80 bytes each), URL and output path. */
const DATA_META_BYTES = 1024;

/** Global per-node receive limits, shared by every download of this process (`--totallimit`). */
const nodeBuckets = new Map<number, TokenBucket>();
function nodeBucket(rateBytesPerSec: number): TokenBucket {
  let bucket = nodeBuckets.get(rateBytesPerSec);
  if (!bucket) nodeBuckets.set(rateBytesPerSec, bucket = new TokenBucket(rateBytesPerSec));
  return bucket;
}

export class DownloadSession {
  private readonly peer: Peer;
  private readonly host: MachineHost<PeerInput, PeerEffect>;
  private readonly abort = new AbortController();
  private readonly buckets: TokenBucket[];
  private readonly links: SupernodeLinks;
  private readonly fetcher: PieceFetcher;
  private readonly digest: WholeFileDigest;
  private readonly disk: DiskWriter;
  private plan: PiecePlan | null = null;
  private bytesDone = 0;
  private fetchedPieces = 0;
  private sourceResult: SourceDownload | null = null;
  /** What the whole file must hash to, when known (--digest, or the supernode's task-info). */
  private knownDigest: string | null = null;
  private sourceFailure: string | null = null;
  private settings: EffectiveSettings;
  private sendQueue: Promise<void> = Promise.resolve();
  private settle!: { resolve(result: DownloadResult): void; reject(err: unknown): void };
  private readonly outcome = new Promise<DownloadResult>((resolve, reject) => { this.settle = { resolve, reject }; });
  private over = false;
  /** The disk error that made the core fail the download, if one did. */
  private writeFailure: Error | null = null;
  /** A full disk: the partial data file is removed on the way out, so the disk is not left full. */
  private discardData = false;

  private constructor(private readonly s: Setup) {
    this.peer = new Peer({ backToSource: s.req.backToSource }, s.peerId);
    this.settings = { origin: this.peer.settings.origin, ...this.peer.settings.settings };
    this.host = hostInRealTime('peer', this.peer, (effect) => this.onEffect(effect), (fault) => {
      this.fail(new DownloadError('internal', `internal error: ${describeFault(fault)}; please report it with ${s.logFile}`));
    }, { keepAlive: true });
    this.buckets = [new TokenBucket(s.req.localLimitBytesPerSec), nodeBucket(s.req.totalLimitBytesPerSec)];
    this.links = new SupernodeLinks(s.peerId, {
      onMessage: (addr, msg) => this.feed({ kind: 'supernode-message', from: addr, msg }),
      onDown: (addr, reason) => {
        s.log('warn', `supernode ${addr} down: ${reason}`);
        this.feed({ kind: 'supernode-down', supernode: addr });
      },
      log: (message) => s.log('warn', message),
    });
    this.fetcher = new PieceFetcher(this.buckets, this.abort.signal, (input) => this.feed(input), s.log);
    this.digest = new WholeFileDigest(s.store, s.req.md5 !== undefined, !s.req.digest);
    this.disk = new DiskWriter(s.store, this.digest, {
      planApplied: (plan, kept) => this.planApplied(plan, kept),
      pieceStored: (piece, startByte, endByte) => this.pieceStored(piece, startByte, endByte),
      writeFailed: (piece, err) => {
        this.writeFailure = err;
        this.feed({ kind: 'write-failed', piece, reason: err.message });
      },
      failed: (err) => this.failWriting(err),
    });
  }

  /** Prepare the home, name the task and find (or start) this home's uploader. */
  static async open(req: DownloadRequest, tuning: SessionTuning = {}): Promise<DownloadSession> {
    const startedMs = monotonicNowMs();
    const layout = homeLayout(req.homeDir);
    await prepareHome(layout).catch((err: Error) => { throw new DownloadError('io', err.message); });
    const log = tuning.log ?? fileLogger(layout.logFile, `dfget[${process.pid}]`);
    await writeNodeMeta(layout, req.supernodes).catch((err: Error) => log('warn', `cannot write meta: ${err.message}`));
    const spec: TaskSpec = {
      url: req.url, headers: req.headers, ...(req.digest ? { digest: req.digest } : {}), ...(req.identifier ? { identifier: req.identifier } : {}),
    };
    let taskId: string;
    try {
      taskId = taskIdFor(spec);
    } catch (err) {
      throw new DownloadError('usage', `cannot download ${req.url}: ${(err as Error).message}`);
    }
    const peerId = newPeerId(String(process.pid));
    log('info', `start ${req.url} task ${taskId} peer ${peerId} pattern ${req.pattern} supernodes ${req.supernodes.join(',') || '-'}`);
    const store = await TaskStore.open(layout.dataDir, taskId, req.url, req.outputPath)
      .catch((err: Error) => { throw new DownloadError('io', `cannot open ${layout.dataDir}: ${err.message}`); });
    const resume = await store.resumable();
    if (resume) log('info', `resuming: ${resume.have.length}/${resume.plan.pieceCount} pieces verified on disk`);
    const uploader = new UploaderLink({
      homeDir: req.homeDir, host: tuning.uploadHost ?? '127.0.0.1', totalLimitBytesPerSec: uploadRateOf(req),
      idleExit: tuning.uploaderIdleExit ?? '5min', ...(tuning.dataMax ? { dataMax: tuning.dataMax } : {}),
    }, log);
    let uploadAddr: string;
    try {
      uploadAddr = await uploader.start();
    } catch (err) {
      throw new DownloadError('io', `cannot start this node's uploader: ${(err as Error).message}`);
    }
    return new DownloadSession({ req, log, logFile: layout.logFile, taskId, spec, peerId, store, resume, uploader, uploadAddr, startedMs });
  }

  /** Run the download to its end; rejects with a `DownloadError`. */
  async run(): Promise<DownloadResult> {
    const { req } = this.s;
    const onAbort = (): void => this.fail(new DownloadError('aborted', 'download aborted'));
    req.signal?.addEventListener('abort', onAbort, { once: true });
    if (req.signal?.aborted) onAbort();
    const deadline = req.timeoutMs > 0
      ? setTimeout(() => this.fail(new DownloadError('timeout', `download did not finish within ${req.timeoutMs} ms; raise --timeout or check the supernode`)), req.timeoutMs)
      : undefined;
    const { resume } = this.s;
    // --idc and --location, told to the manager, also go to the supernode at registration: its scheduler prefers near sources.
    this.feed({
      kind: 'start', taskId: this.s.taskId, task: this.s.spec, supernodes: req.supernodes, uploadAddr: this.s.uploadAddr, pattern: req.pattern,
      ...(req.idc ? { idc: req.idc } : {}), ...(req.location ? { location: req.location } : {}),
      // --totallimit / --upload-limit cap this node's uploads: the scheduler weighs sources by it.
      ...(uploadRateOf(req) > 0 ? { uploadRateBytesPerSec: uploadRateOf(req) } : {}),
      ...(resume ? { have: resume.have, resumePlan: { totalBytes: resume.plan.totalBytes, pieceSizeBytes: resume.plan.pieceSizeBytes } } : {}),
    });
    try {
      return await this.outcome;
    } finally {
      clearTimeout(deadline);
      req.signal?.removeEventListener('abort', onAbort);
      await this.shutdown();
      if (this.discardData) await this.s.store.discard().catch(() => {});
    }
  }

  private feed(input: PeerInput): void {
    if (!this.over) this.host.apply(input);
  }

  private onEffect(effect: PeerEffect): void {
    switch (effect.kind) {
      case 'send': return this.send(effect);
      case 'settings': return this.adoptSettings(effect);
      case 'trust': return this.s.uploader.trustKey(effect.taskId, effect.supernodeKey);
      case 'file-digest': return this.learnFileDigest(effect.fileDigest);
      case 'plan': return this.applyPlan(effect);
      case 'fetch-piece': return this.fetcher.start(effect);
      case 'cancel-fetch': return this.fetcher.cancel(effect.piece);
      case 'write-piece': return this.writePiece(effect);
      case 'fetch-source':
        void this.fromSource(effect.missing);
        return;
      case 'done':
        void this.complete(effect);
        return;
      case 'failed': {
        const { req } = this.s;
        if (this.writeFailure) return this.failWriting(this.writeFailure);
        return this.fail(failureError(effect.reason, effect.status, req.supernodes, req.backToSource, this.links.downReasons, this.sourceFailure));
      }
      case 'log': return this.s.log(effect.level, effect.message);
    }
  }

  /**
   * A message that reports pieces as held goes out only once those pieces are on disk and this
   * node's uploader was told, so no peer is sent here for a piece it cannot serve yet; the core
   * bounds the wait for a booting uploader (`waitForUploaderMs`) well within its pull timeout.
   * It waits for the pieces it claims only, not for other writes or the whole-file digest.
   */
  private send({ to, msg, waitForUploaderMs }: Effect<'send'>): void {
    if (msg.kind === 'register') {
      const held = piecesIn(msg.have);
      this.s.log('info', `registering with supernode ${to}: ${held} pieces held${held > 0 ? ` (${msg.have.length} ranges)` : ''}`);
    }
    this.sendQueue = this.sendQueue.then(async () => {
      if (waitForUploaderMs !== undefined) {
        await this.disk.stored(claimedPieces(msg));
        await Promise.race([this.s.uploader.connect().catch(() => {}), sleep(waitForUploaderMs, undefined, false)]);
      }
      if (!this.over || msg.kind === 'report' || msg.kind === 'leave') this.links.send(to, msg);
    });
  }

  /** The supernode's settings (or the defaults): this home's uploader follows them too. */
  private adoptSettings({ settings, origin }: Effect<'settings'>): void {
    this.settings = { origin, ...settings };
    this.s.uploader.configure(settings);
    if (origin === 'supernode') this.s.log('info', `settings from supernode ${this.peer.currentSupernode}: ${JSON.stringify(settings)}`);
  }

  /** The CDN finished after the plan came: its file digest (no need to hash the file here). */
  private learnFileDigest(fileDigest: string): void {
    this.knownDigest ??= fileDigest;
    // Kept only where hashing was deferred (no --digest: WholeFileDigest decides).
    this.disk.learnDigest(fileDigest);
    this.s.log('info', `file digest from the supernode's CDN: ${fileDigest}`);
  }

  private applyPlan(effect: Effect<'plan'>): void {
    const plan: PiecePlan = { totalBytes: effect.totalBytes, pieceSizeBytes: effect.pieceSizeBytes, pieceCount: effect.pieceCount };
    this.plan = plan;
    const kept = effect.discardLocal ? [] : (this.s.resume?.have ?? []).filter((piece) => piece < plan.pieceCount);
    this.bytesDone = kept.reduce((sum, piece) => sum + bytesOf(plan, piece), 0);
    if (effect.discardLocal) this.s.log('info', 'the source changed since the interrupted run; discarding its pieces');
    const cdnDigest = effect.fileDigest !== undefined && !this.s.req.digest ? effect.fileDigest : null;
    this.knownDigest = this.s.req.digest?.toLowerCase() ?? effect.fileDigest ?? null;
    const { uploader, store, req } = this.s;
    // The data file and its resume record, counted before a byte is written: the home's uploader
    // keeps the data dir under --data-max with them.
    const bytes = plan.totalBytes + DATA_META_BYTES + 80 * plan.pieceCount + req.url.length + req.outputPath.length;
    const makeRoom = (): Promise<void> => uploader.makeRoom(store.fileName, bytes, this.settings.uploaderWaitMs);
    this.disk.applyPlan(plan, effect.discardLocal, kept, cdnDigest, makeRoom);
  }

  private planApplied(plan: PiecePlan, kept: number[]): void {
    const { uploader, taskId, store, req } = this.s;
    uploader.resetTask(taskId);
    uploader.listTask({ taskId, fileName: store.fileName, ...plan });
    for (const piece of kept) uploader.havePiece(taskId, piece);
    req.onPlan?.({ ...plan, dataPath: store.dataPath });
    for (const piece of kept) {
      const { startByte, endByte } = pieceRange(plan, piece);
      req.onPieceWritten?.(piece, startByte, endByte);
    }
    this.progress();
  }

  private writePiece({ piece, startByte, endByte }: Effect<'write-piece'>): void {
    const held = this.fetcher.take(piece);
    if (!held) return this.fail(new DownloadError('internal', `internal error: the core asked to write piece ${piece}, which was never received`));
    this.fetchedPieces++;
    this.disk.writePiece(piece, startByte, endByte, held);
  }

  private pieceStored(piece: number, startByte: number, endByte: number): void {
    this.s.uploader.havePiece(this.s.taskId, piece);
    this.bytesDone += endByte - startByte;
    this.s.req.onPieceWritten?.(piece, startByte, endByte);
    this.progress();
  }

  private progress(): void {
    if (!this.plan) return;
    this.s.req.onProgress?.({
      bytesDone: this.bytesDone, totalBytes: this.plan.totalBytes,
      fromPeersBytes: this.fetcher.fromPeersBytes, fromSupernodeBytes: this.fetcher.fromSupernodeBytes,
    });
  }

  /** Back to source: `missing` (the core's choice when pieces are held) or the whole file. */
  private async fromSource(missing: readonly ByteRange[] | undefined): Promise<void> {
    const { req, store, log } = this.s;
    log('info', `downloading ${req.url} from the source${missing ? ` (${missing.length} missing range(s))` : ''}`);
    if (req.pattern !== 'source') req.onBackToSource?.(this.unreachable());
    this.fetcher.cancelAll();
    await this.disk.idle();
    const part = missing && this.plan ? { plan: this.plan, missing, expectedDigest: this.knownDigest, heldBytes: this.bytesDone } : null;
    try {
      this.sourceResult = await downloadFromSource(req, store, this.buckets, this.abort.signal, {
        planned: (plan) => { this.plan = plan; this.bytesDone = 0; },
        advanced: (bytesDone) => { this.bytesDone = bytesDone; this.progress(); },
      }, part, log);
      this.feed({ kind: 'source-fetched', ok: true, sizeBytes: this.sourceResult.sourceBytes });
    } catch (err) {
      if (this.over) return;
      if (isLocalFileError(err)) return this.failWriting(err as Error);
      if (err instanceof SourceError && err.status !== undefined) return this.fail(new DownloadError('source-error', err.message, err.status));
      this.sourceFailure = (err as Error).message;
      this.feed({ kind: 'source-fetched', ok: false, reason: this.sourceFailure });
    }
  }

  /** Why no supernode served this download, for the user. */
  private unreachable(): string {
    const { supernodes } = this.s.req;
    if (supernodes.length === 0) return 'no supernode given';
    const list = supernodes.map((addr) => `${addr} (${this.links.downReasons.get(addr) ?? 'no answer'})`).join(', ');
    return supernodes.length === 1 ? `cannot reach supernode ${list}` : `cannot reach any supernode: ${list}`;
  }

  private async complete(done: Effect<'done'>): Promise<void> {
    const { req, log, resume } = this.s;
    log('info', `all pieces verified (peers ${done.fromPeersBytes} B, supernode ${done.fromSupernodeBytes} B, source ${done.fromSourceBytes} B)`);
    try {
      await this.disk.idle();
      const plan = this.sourceResult?.plan ?? this.plan;
      if (!plan) throw new DownloadError('internal', 'internal error: the download finished without a plan');
      const fileDigest = await completeDownload({
        ...this.s, plan, digest: this.digest, uploaderWaitMs: this.settings.uploaderWaitMs,
        sourceDigests: this.sourceResult ? { sha256: this.sourceResult.fileDigest, ...(this.sourceResult.md5 ? { md5: this.sourceResult.md5 } : {}) } : null,
      });
      this.succeed({
        taskId: this.s.taskId, outputPath: req.outputPath, totalBytes: plan.totalBytes, fileDigest,
        fromPeersBytes: done.fromPeersBytes, fromSupernodeBytes: done.fromSupernodeBytes, fromSourceBytes: done.fromSourceBytes,
        resumedPieces: resume && !this.sourceResult ? Math.min(resume.have.length, plan.pieceCount) : 0,
        fetchedPieces: this.fetchedPieces, elapsedMs: Math.round(monotonicNowMs() - this.s.startedMs), settings: this.settings,
      });
    } catch (err) {
      this.fail(err instanceof DownloadError ? err : new DownloadError('io', `cannot save ${req.outputPath}: ${(err as Error).message}`));
    }
  }

  /** A file of this download cannot be written: fail with the io exit; on a full disk, drop the partial file. */
  private failWriting(err: Error): void {
    if (isDiskFull(err)) this.discardData = true;
    this.fail(writeError(this.s.store.dataPath, err));
  }

  private succeed(result: DownloadResult): void {
    if (this.over) return;
    this.over = true;
    this.settle.resolve(result);
  }

  private fail(err: DownloadError): void {
    if (this.over) return;
    this.over = true;
    this.abort.abort(err);
    this.settle.reject(err);
  }

  /** Stop every part: cancel fetches, let queued frames and writes land, close the files. */
  private async shutdown(): Promise<void> {
    this.over = true;
    this.host.close();
    this.fetcher.cancelAll();
    await this.sendQueue;
    this.links.close();
    this.fetcher.close();
    await this.disk.idle();
    await this.s.store.flush().catch(() => {});
    await this.s.store.closeWriter().catch(() => {});
    this.s.uploader.close();
  }
}

/** The pieces a pull or report says this peer now holds. */
function claimedPieces(msg: Effect<'send'>['msg']): number[] {
  return msg.kind === 'pull' || msg.kind === 'report' ? msg.results.filter((r) => r.ok).map((r) => r.piece) : [];
}

function bytesOf(plan: PiecePlan, piece: number): number {
  const { startByte, endByte } = pieceRange(plan, piece);
  return endByte - startByte;
}
