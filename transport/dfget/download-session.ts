/**
 * One download, driven in real time: the thin driver around core `Peer`.
 *
 * Theory of operation. Every protocol decision is the core's; this file turns its effects into
 * I/O and I/O results back into inputs, always through `applyAndDrain` / `fireDue`:
 *
 *   effect          what the driver does                          input it feeds back
 *   send            frame on the supernode's WebSocket            supernode-message / supernode-down
 *   plan            size the data file, list it in the uploader   -
 *   fetch-piece     data-plane request (within the rate limits),  piece-fetched {digest | failure}
 *                   SHA-256 of the bytes received
 *   cancel-fetch    abort that request; its answer is dropped     -
 *   write-piece     write the held bytes at their offset, record  write-failed (on I/O error)
 *                   the piece in the meta file and the uploader
 *   fetch-source    plain GET of the URL into the data file       source-fetched
 *   done / failed   finish: verify, back up, move, hand the task  -
 *                   to the uploader to seed / reject
 *
 * The core's deadline is re-armed after every input. Disk work is serialised on one queue, so
 * `done` (which the core emits right after the last `write-piece`) is acted on only once every
 * write has landed.
 */
import { hostname } from 'node:os';
import { createHash, randomBytes, type Hash } from 'node:crypto';
import { configOrThrow, uploadSlotsFor } from '../../core/config.ts';
import { applyAndDrain, fireDue } from '../../core/drive.ts';
import type { PeerEffect, PeerInput } from '../../core/peer-io.ts';
import { Peer } from '../../core/peer.ts';
import { pieceRange, type PiecePlan } from '../../core/pieces.ts';
import { SUPERNODE, type TaskSpec } from '../../core/protocol.ts';
import { TokenBucket } from '../../core/token-bucket.ts';
import { taskIdFor } from '../task-id.ts';
import { monotonicNowMs, throttle } from '../uploader/throttle.ts';
import { DownloadError } from './download-error.ts';
import type { DownloadRequest, DownloadResult } from './download.ts';
import { fileLogger, homeLayout, prepareHome, writeNodeMeta, type LogFn } from './home.ts';
import { PieceClient } from './piece-client.ts';
import { fetchFromSource, SourceError } from './source-fetch.ts';
import { SupernodeLinks } from './supernode-link.ts';
import { pieceDigest, TaskStore } from './task-store.ts';
import { UploaderLink } from './uploader-link.ts';

/** Extra knobs for tests and benchmarks; the CLI exposes them as hidden flags. */
export interface SessionTuning {
  /** `--idle-exit` of a background uploader this run starts. */
  uploaderIdleExit?: string;
  /** Host other peers dial to reach this node's uploader. */
  uploadHost?: string;
  /** Log destination override (default `<home>/logs/dfclient.log`). */
  log?: LogFn;
}

/** Longest a pull that claims pieces waits for a booting uploader before going out anyway. */
const UPLOADER_WAIT_MS = 3000;

function sleepMs(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** Global per-node receive limits, shared by every download of this process (`--totallimit`). */
const nodeBuckets = new Map<number, TokenBucket>();
function nodeBucket(rateBytesPerSec: number): TokenBucket {
  let bucket = nodeBuckets.get(rateBytesPerSec);
  if (!bucket) nodeBuckets.set(rateBytesPerSec, bucket = new TokenBucket(rateBytesPerSec));
  return bucket;
}

export async function runDownload(req: DownloadRequest, tuning: SessionTuning = {}): Promise<DownloadResult> {
  const startedMs = monotonicNowMs();
  const layout = homeLayout(req.homeDir);
  await prepareHome(layout).catch((err: Error) => { throw new DownloadError('io', err.message); });
  const log = tuning.log ?? fileLogger(layout.logFile, `dfget[${process.pid}]`);
  await writeNodeMeta(layout, req.supernodes).catch((err: Error) => log('warn', `cannot write meta: ${err.message}`));

  const spec: TaskSpec = { url: req.url, headers: req.headers, ...(req.digest ? { digest: req.digest } : {}), ...(req.identifier ? { identifier: req.identifier } : {}) };
  let taskId: string;
  try {
    taskId = taskIdFor(spec);
  } catch (err) {
    throw new DownloadError('usage', `cannot download ${req.url}: ${(err as Error).message}`);
  }
  // The supernode accepts peer ids of A-Z a-z 0-9 . _ : - only.
  const peerId = `${hostname().replace(/[^A-Za-z0-9._:-]/g, '-').slice(0, 100)}-${process.pid}-${randomBytes(4).toString('hex')}`;
  log('info', `start ${req.url} task ${taskId} peer ${peerId} pattern ${req.pattern} supernodes ${req.supernodes.join(',') || '-'}`);

  const store = await TaskStore.open(layout.dataDir, taskId, req.url, req.outputPath)
    .catch((err: Error) => { throw new DownloadError('io', `cannot open ${layout.dataDir}: ${err.message}`); });
  const resume = await store.resumable();
  if (resume) log('info', `resuming: ${resume.have.length}/${resume.plan.pieceCount} pieces verified on disk`);

  const uploadRateBytesPerSec = tighterLimit(req.totalLimitBytesPerSec, req.uploadLimitBytesPerSec ?? 0);
  const uploader = new UploaderLink({
    homeDir: req.homeDir, host: tuning.uploadHost ?? '127.0.0.1', totalLimitBytesPerSec: uploadRateBytesPerSec,
    uploadLimit: uploadSlotsFor(configOrThrow(), uploadRateBytesPerSec), idleExit: tuning.uploaderIdleExit ?? '5min',
  }, log);
  let uploadAddr: string;
  try {
    uploadAddr = await uploader.start();
  } catch (err) {
    throw new DownloadError('io', `cannot start this node's uploader: ${(err as Error).message}`);
  }

  const cfg = configOrThrow({ backToSource: req.backToSource });
  const peer = new Peer(cfg, peerId);
  const buckets = [new TokenBucket(req.localLimitBytesPerSec), nodeBucket(req.totalLimitBytesPerSec)];
  const pieces = new PieceClient();
  const abort = new AbortController();
  const fetches = new Map<number, AbortController>();
  const received = new Map<number, { bytes: Buffer; digest: string }>();
  let plan: PiecePlan | null = null;
  let diskQueue: Promise<void> = Promise.resolve();
  let sendQueue: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  let fetchedPieces = 0;
  let bytesDone = 0;
  let fromPeersBytes = 0;
  let fromSupernodeBytes = 0;
  let sourcePlan: PiecePlan | null = null;
  let sourceDigest: string | null = null;
  let sourceFailure: string | null = null;
  // The whole-file digest is computed as the verified prefix grows (pieces arrive nearly in
  // order), so finishing a large file does not stall on hashing it all at the end. When the
  // supernode's CDN already gave it and the user named no --digest, it is not computed again:
  // every piece matched a digest from that same CDN pass, so the file's digest is the CDN's.
  let fileHash: Hash = createHash('sha256');
  let hashedPieces = 0;
  let cdnFileDigest: string | null = null;
  const hashVerifiedPrefix = async (justWritten?: { piece: number; bytes: Buffer }): Promise<void> => {
    if (cdnFileDigest !== null) return;
    while (plan && hashedPieces < plan.pieceCount && store.isVerified(hashedPieces)) {
      fileHash.update(justWritten?.piece === hashedPieces ? justWritten.bytes : await store.readPiece(hashedPieces));
      hashedPieces++;
    }
  };

  let settle!: { resolve(r: DownloadResult): void; reject(e: unknown): void };
  const finished = new Promise<DownloadResult>((resolve, reject) => { settle = { resolve, reject }; });
  let over = false;
  const fail = (err: unknown): void => {
    if (over) return;
    over = true;
    abort.abort(err);
    settle.reject(err);
  };

  const links = new SupernodeLinks(peerId, {
    onMessage: (addr, msg) => feed({ kind: 'supernode-message', from: addr, msg }),
    onDown: (addr, reason) => {
      log('warn', `supernode ${addr} down: ${reason}`);
      feed({ kind: 'supernode-down', supernode: addr });
    },
    log: (m) => log('warn', m),
  });

  const feed = (input: PeerInput): void => {
    if (over) return;
    try {
      applyAndDrain(peer, monotonicNowMs(), input, onEffect);
    } catch (err) {
      return fail(new DownloadError('internal', `internal error: ${(err as Error).message}`));
    }
    schedule();
  };
  const schedule = (): void => {
    clearTimeout(timer);
    const deadline = peer.nextDeadlineMs();
    if (deadline === null || over) return;
    timer = setTimeout(() => {
      if (over) return;
      fireDue(peer, monotonicNowMs(), onEffect);
      schedule();
    }, Math.max(0, deadline - monotonicNowMs()) + 1);
  };
  const onDisk = (work: () => Promise<void>): void => {
    diskQueue = diskQueue.then(work).catch((err: Error) => fail(new DownloadError('io', `cannot write to ${store.dataPath}: ${err.message}`)));
  };

  const onEffect = (effect: PeerEffect): void => {
    switch (effect.kind) {
      case 'send': {
        // A message that reports pieces as held goes out only once those pieces are on disk and
        // this node's uploader was told, so no peer is sent here for a piece we cannot serve yet.
        // Waiting for a booting uploader is bounded well below the core's pull timeout, which
        // started when the core emitted the message.
        const { to, msg } = effect;
        const claimsPieces = (msg.kind === 'pull' || msg.kind === 'report') && msg.results.some((r) => r.ok);
        sendQueue = sendQueue.then(async () => {
          if (claimsPieces) {
            await diskQueue;
            await Promise.race([uploader.connect().catch(() => {}), sleepMs(Math.min(UPLOADER_WAIT_MS, cfg.pullTimeoutMs / 4))]);
          }
          if (!over || msg.kind === 'report' || msg.kind === 'leave') links.send(to, msg);
        });
        break;
      }
      case 'plan': {
        const next: PiecePlan = { totalBytes: effect.totalBytes, pieceSizeBytes: effect.pieceSizeBytes, pieceCount: effect.pieceCount };
        plan = next;
        cdnFileDigest = effect.fileDigest !== undefined && !req.digest ? effect.fileDigest : null;
        const kept = effect.discardLocal ? [] : (resume?.have ?? []).filter((p) => p < next.pieceCount);
        bytesDone = kept.reduce((sum, p) => sum + bytesOf(next, p), 0);
        if (effect.discardLocal) log('info', 'the source changed since the interrupted run; discarding its pieces');
        onDisk(async () => {
          await store.applyPlan(next, effect.discardLocal);
          fileHash = createHash('sha256');
          hashedPieces = 0;
          uploader.resetTask(taskId);
          uploader.listTask({ taskId, fileName: store.fileName, ...next });
          for (const p of kept) uploader.havePiece(taskId, p);
          req.onPlan?.({ ...next, dataPath: store.dataPath });
          for (const p of kept) {
            const { startByte, endByte } = pieceRange(next, p);
            req.onPieceWritten?.(p, startByte, endByte);
          }
          progress();
        });
        break;
      }
      case 'fetch-piece':
        void fetchPiece(effect);
        break;
      case 'cancel-fetch':
        fetches.get(effect.piece)?.abort();
        fetches.delete(effect.piece);
        break;
      case 'write-piece': {
        const held = received.get(effect.piece);
        received.delete(effect.piece);
        if (!held) return fail(new DownloadError('internal', `core asked to write piece ${effect.piece} that was never received`));
        fetchedPieces++;
        onDisk(async () => {
          try {
            await store.writePiece(effect.piece, effect.startByte, held.bytes, held.digest);
          } catch (err) {
            feed({ kind: 'write-failed', piece: effect.piece, reason: (err as Error).message });
            return;
          }
          uploader.havePiece(taskId, effect.piece);
          await hashVerifiedPrefix({ piece: effect.piece, bytes: held.bytes });
          bytesDone += effect.endByte - effect.startByte;
          req.onPieceWritten?.(effect.piece, effect.startByte, effect.endByte);
          progress();
        });
        break;
      }
      case 'fetch-source':
        log('info', `downloading ${req.url} from the source`);
        void fromSource();
        break;
      case 'done':
        log('info', `all pieces verified (peers ${effect.fromPeersBytes} B, supernode ${effect.fromSupernodeBytes} B, source ${effect.fromSourceBytes} B)`);
        void complete(effect);
        break;
      case 'failed':
        fail(failureError(effect.reason, effect.status, req, links.downReasons, sourceFailure));
        break;
      case 'log':
        log(effect.level, effect.message);
        break;
    }
  };

  const progress = (): void => {
    if (!plan) return;
    req.onProgress?.({ bytesDone, totalBytes: plan.totalBytes, fromPeersBytes, fromSupernodeBytes });
  };

  const fetchPiece = async (effect: Extract<PeerEffect, { kind: 'fetch-piece' }>): Promise<void> => {
    const control = new AbortController();
    fetches.set(effect.piece, control);
    const signal = AbortSignal.any([control.signal, abort.signal]);
    const sizeBytes = effect.endByte - effect.startByte;
    try {
      await throttle(buckets, sizeBytes, signal);
    } catch {
      return;
    }
    const outcome = await pieces.fetch({ addr: effect.sourceAddr, taskId, piece: effect.piece, sizeBytes, timeoutMs: cfg.pieceTimeoutMs + 1000, signal });
    if (fetches.get(effect.piece) === control) fetches.delete(effect.piece);
    if (!outcome.ok) {
      if (outcome.failure === 'cancelled') return;
      log('warn', `piece ${effect.piece} from ${effect.source}: ${outcome.failure} (${outcome.detail})`);
      feed({ kind: 'piece-fetched', piece: effect.piece, source: effect.source, digest: null, failure: outcome.failure });
      return;
    }
    const digest = pieceDigest(outcome.bytes);
    log('info', `piece ${effect.piece} received from ${effect.source} (${effect.sourceAddr})`);
    received.set(effect.piece, { bytes: outcome.bytes, digest });
    if (effect.source === SUPERNODE) fromSupernodeBytes += sizeBytes;
    else fromPeersBytes += sizeBytes;
    feed({ kind: 'piece-fetched', piece: effect.piece, source: effect.source, digest });
    if (received.delete(effect.piece)) {
      // Not written: the core rejected the bytes (wrong digest) or no longer wanted them.
      if (effect.source === SUPERNODE) fromSupernodeBytes -= sizeBytes;
      else fromPeersBytes -= sizeBytes;
    }
  };

  const fromSource = async (): Promise<void> => {
    for (const control of fetches.values()) control.abort();
    fetches.clear();
    await diskQueue;
    try {
      await store.closeWriter();
      const result = await fetchFromSource({
        url: req.url, headers: req.headers, dataPath: store.dataPath, buckets, signal: abort.signal,
        onPlan: (p) => {
          plan = p;
          bytesDone = 0;
          req.onPlan?.({ ...p, dataPath: store.dataPath });
        },
        onBytes: (endByte) => {
          const p = plan;
          if (!p) return;
          const before = bytesDone;
          bytesDone = endByte;
          for (let piece = Math.floor(before / p.pieceSizeBytes); piece < p.pieceCount; piece++) {
            const { startByte, endByte: pieceEnd } = pieceRange(p, piece);
            if (pieceEnd > endByte) break;
            if (pieceEnd > before) req.onPieceWritten?.(piece, startByte, pieceEnd);
          }
          progress();
        },
      });
      sourcePlan = result.plan;
      sourceDigest = result.fileDigest;
      await store.adoptSourceFile(result.plan);
      feed({ kind: 'source-fetched', ok: true, sizeBytes: result.plan.totalBytes });
    } catch (err) {
      if (over) return;
      if (err instanceof SourceError && err.status !== undefined) {
        return fail(new DownloadError('source-error', err.message, err.status));
      }
      sourceFailure = (err as Error).message;
      feed({ kind: 'source-fetched', ok: false, reason: sourceFailure });
    }
  };

  const complete = async (done: Extract<PeerEffect, { kind: 'done' }>): Promise<void> => {
    try {
      await diskQueue;
      await store.flush();
      const finalPlan = plan ?? sourcePlan;
      if (!finalPlan) throw new DownloadError('internal', 'download finished without a plan');
      await hashVerifiedPrefix();
      const fileDigest = sourceDigest ?? cdnFileDigest
        ?? (hashedPieces === finalPlan.pieceCount ? `sha256:${fileHash.digest('hex')}` : await store.fileDigest());
      if (req.digest && req.digest.toLowerCase() !== fileDigest) {
        throw new DownloadError('digest-mismatch', `the downloaded file has digest ${fileDigest} but --digest says ${req.digest}; the source may have changed`);
      }
      await store.finalize(req.outputPath, () => {
        uploader.listTask({ taskId, fileName: `${taskId}.server`, ...finalPlan });
        if (sourcePlan) for (let p = 0; p < finalPlan.pieceCount; p++) uploader.havePiece(taskId, p);
      });
      log('info', `saved ${req.outputPath} (${finalPlan.totalBytes} B, ${fileDigest})`);
      if (req.pattern === 'p2p' && req.supernodes.length > 0) {
        // This process's supernode connection ends with it: the uploader, which keeps serving
        // the file, registers it under its own id so later peers are still sent here.
        await Promise.race([uploader.connect().catch(() => {}), sleepMs(UPLOADER_WAIT_MS)]);
        uploader.seedTask({
          taskId, task: spec, supernodes: req.supernodes, fileDigest,
          ...(uploadRateBytesPerSec > 0 ? { uploadRateBytesPerSec } : {}),
        });
      }
      if (over) return;
      over = true;
      settle.resolve({
        taskId, outputPath: req.outputPath, totalBytes: finalPlan.totalBytes, fileDigest,
        fromPeersBytes: done.fromPeersBytes, fromSupernodeBytes: done.fromSupernodeBytes, fromSourceBytes: done.fromSourceBytes,
        resumedPieces: resume && !sourcePlan ? Math.min(resume.have.length, finalPlan.pieceCount) : 0,
        fetchedPieces, elapsedMs: Math.round(monotonicNowMs() - startedMs),
      });
    } catch (err) {
      fail(err instanceof DownloadError ? err : new DownloadError('io', `cannot save ${req.outputPath}: ${(err as Error).message}`));
    }
  };

  const onAbort = (): void => fail(new DownloadError('aborted', 'download aborted'));
  req.signal?.addEventListener('abort', onAbort, { once: true });
  if (req.signal?.aborted) onAbort();
  const deadline = req.timeoutMs > 0
    ? setTimeout(() => fail(new DownloadError('timeout', `download did not finish within ${req.timeoutMs} ms; raise --timeout or check the supernode`)), req.timeoutMs)
    : undefined;

  feed({
    kind: 'start', taskId, task: spec, supernodes: req.supernodes, uploadAddr, pattern: req.pattern,
    // --totallimit / --upload-limit cap this node's uploads: the scheduler weighs sources by it.
    ...(uploadRateBytesPerSec > 0 ? { uploadRateBytesPerSec } : {}),
    ...(resume ? { have: resume.have, resumePlan: { totalBytes: resume.plan.totalBytes, pieceSizeBytes: resume.plan.pieceSizeBytes } } : {}),
  });

  try {
    return await finished;
  } finally {
    over = true;
    clearTimeout(timer);
    clearTimeout(deadline);
    req.signal?.removeEventListener('abort', onAbort);
    for (const control of fetches.values()) control.abort();
    await sendQueue;
    links.close();
    pieces.close();
    await diskQueue.catch(() => {});
    await store.flush().catch(() => {});
    await store.closeWriter().catch(() => {});
    uploader.close();
  }
}

/** The tighter of two rate limits where 0 means unlimited. */
function tighterLimit(aBytesPerSec: number, bBytesPerSec: number): number {
  if (aBytesPerSec <= 0) return Math.max(0, bBytesPerSec);
  return bBytesPerSec > 0 ? Math.min(aBytesPerSec, bBytesPerSec) : aBytesPerSec;
}

function bytesOf(plan: PiecePlan, piece: number): number {
  const { startByte, endByte } = pieceRange(plan, piece);
  return endByte - startByte;
}

function failureError(
  reason: string, status: number | undefined, req: DownloadRequest, downReasons: ReadonlyMap<string, string>, sourceFailure: string | null,
): DownloadError {
  if (status !== undefined) return new DownloadError('source-error', `the source cannot be downloaded: ${reason} (HTTP ${status})`, status);
  const allDown = downReasons.size > 0 && downReasons.size >= req.supernodes.length;
  const list = req.supernodes.map((addr) => `${addr} (${downReasons.get(addr) ?? 'unknown'})`).join(', ');
  const which = req.supernodes.length === 1 ? `supernode ${list}` : `any supernode: ${list}`;
  if (sourceFailure !== null) {
    const before = allDown ? `cannot reach ${which}, and ` : '';
    return new DownloadError('source-error', `${before}the download from the source failed: ${sourceFailure}`);
  }
  if (allDown) {
    return new DownloadError('supernode-unreachable', `cannot reach ${which}; is it running? set --node${req.backToSource ? '' : ', or drop --no-back-source'}`);
  }
  return new DownloadError('failed', `download failed: ${reason}`);
}
