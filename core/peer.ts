/**
 * The peer (dfget) state machine: one download of one task.
 *
 * Theory of operation. The peer registers with the first supernode of its list and waits for
 * `task-info` (the piece plan). It then pulls; the supernode answers with assignments (piece,
 * source, expected digest) or a wait hint. Each assignment becomes a `fetch-piece` effect; the
 * driver fetches the bytes from that source, hashes them and reports `piece-fetched` with the
 * digest it computed. The peer — not the driver — compares digests: a match becomes
 * `write-piece` and a success result; a mismatch is a `corrupt` failure, nothing is written and
 * the source goes on the local blacklist. Results travel to the supernode with the next pull
 * (at most one pull is outstanding; a finished piece, a wait hint expiring, or an unasked
 * `assign` after a wake-up keeps work flowing). When every piece is verified the peer reports
 * its last results and emits `done`; it stays a source through its uploader.
 *
 * Settings: the supernode's `task-info` carries the fleet's settings (settings.ts); the peer runs
 * with them from then on and tells its driver (`settings`), which configures the uploader. Until
 * then (and when a supernode sends none) it runs with the defaults, and logs the fallback. Only
 * `backToSource` is local.
 *
 * Admission: `task-info` carries the peer's grant and the key that signs it; the peer hands the
 * key to its driver (`trust`: this host's uploader accepts grants signed by it for this task) and
 * sends the grant with every piece request. A source that refuses the grant (`unauthorized`) is
 * not blamed; the result asks the supernode for a fresh grant, which comes with the next assign.
 *
 * Failure handling: a fetch with no result after `pieceTimeoutMs` is cancelled and reported as a
 * timeout. With `slowFetchFactor` set, a fetch from a peer that runs that many times longer than
 * the download's verified fetches took per byte (at least `slowFetchMinMs`) is slow; slow fetches
 * are cancelled and reported as `slow` when they hold the download up — in the tail (every missing
 * piece is running) or when every download slot holds one — their sources go on the local
 * blacklist and the pieces are asked for again: a stalled connection, or a peer that stopped
 * answering or serves far below its declared rate, costs a few fetch times instead of
 * `pieceTimeoutMs`. A pull unanswered for `pullTimeoutMs`, or `supernode-down`, moves the peer to
 * the next supernode in its list, carrying the pieces it has and its local blacklist (migration); with no
 * supernode left it downloads from the source itself (`fetch-source`) when `backToSource`
 * allows — only the byte ranges of the pieces it lacks when it holds some (`missingRanges`) —
 * else fails. Pieces already verified on disk (`have` at start) are reused when the
 * plan matches (`resumePlan`); otherwise the driver is told to discard them.
 *
 *   input                     effects
 *   start                     send register            (pattern source: fetch-source)
 *   task-info                 settings; trust (the supernode's key); plan; send pull (or done, when resuming)
 *   assign                    fetch-piece ... (each with the peer's grant; an assign may renew it)
 *   wait                      - (arms the retry timer)
 *   task-failed               failed
 *   piece-fetched ok          write-piece; send pull | report + done
 *   piece-fetched bad         send pull (result carries the failure)
 *   supernode-down / silence  send register to the next supernode | fetch-source | failed
 *   write-failed              send leave; failed
 *   timeout                   cancel-fetch (timed out or slow); send pull | migration
 */
import { Bitset } from './bitset.ts';
import { blameFor } from './blacklist.ts';
import { Clock, Outbox } from './drive.ts';
import { MAX_SOURCE_RANGES, type ByteRange, type PeerEffect, type PeerInput } from './peer-io.ts';
import { rangesOf, type PieceRange } from './piece-ranges.ts';
import { pieceRange, type PiecePlan } from './pieces.ts';
import type { Assignment, FailureKind, Grant, PeerId, PeerToSupernode, PieceResult, SupernodeToPeer, TaskId, TaskSpec } from './protocol.ts';
import { SUPERNODE } from './protocol.ts';
import { DEFAULT_PEER_SETTINGS, type PeerLocalConfig, type PeerSettings, type SettingsOrigin } from './settings.ts';

/** Largest resumed plan whose pieces a register names (the wire's piece index limit). */
const MAX_RESUME_PIECES = 2 ** 24;

type Phase = 'idle' | 'registered' | 'downloading' | 'source' | 'done' | 'failed';

interface RunningFetch {
  piece: number;
  source: PeerId;
  digest: string;
  startedMs: number;
  deadlineMs: number;
  /** When the fetch counts as slow (slowFetchFactor), or Infinity. */
  slowAtMs: number;
}

export class Peer {
  private readonly clock = new Clock();
  private readonly out = new Outbox<PeerEffect>();
  private phase: Phase = 'idle';
  private taskId: TaskId = '';
  private task: TaskSpec = { url: '', headers: {} };
  private supernodes: string[] = [];
  private supernodeAt = 0;
  private uploadAddr = '';
  private pattern: 'p2p' | 'cdn' = 'p2p';
  private uploadRateBytesPerSec = 0;
  private placement: { idc?: string; location?: string } = {};
  private plan: PiecePlan | null = null;
  /** The whole file's digest was handed out (with the plan, or by `file-digest` later). */
  private fileDigestKnown = false;
  private have: Bitset | null = null;
  private resumeHave: number[] = [];
  private resumePlan: { totalBytes: number; pieceSizeBytes: number } | null = null;
  /**
   * The fetches running, oldest first (at most peerDownLimit: a scan of a short array, where a
   * map cost an entry per fetch and an iterator at every `nextDeadlineMs`).
   */
  private readonly running: RunningFetch[] = [];
  private results: PieceResult[] = [];
  private readonly localBlacklist = new Set<PeerId>();
  private awaitingSinceMs: number | null = null;
  private retryAtMs: number | null = null;
  private fromPeersBytes = 0;
  private fromSupernodeBytes = 0;
  /** Time and bytes of this download's verified fetches: what a fetch takes per byte here. */
  private fetchedMs = 0;
  private fetchedBytes = 0;
  /** This peer's admission to the task's pieces, from the supernode (task-info, renewed in assign). */
  private grant: Grant | null = null;
  private cfg: PeerSettings = DEFAULT_PEER_SETTINGS;
  private settingsOrigin: SettingsOrigin = 'default';

  constructor(private readonly local: PeerLocalConfig, readonly peerId: PeerId) {}

  /** The settings this peer runs with now, and whether its supernode gave them. */
  get settings(): { settings: PeerSettings; origin: SettingsOrigin } { return { settings: this.cfg, origin: this.settingsOrigin }; }

  get state(): Phase { return this.phase; }
  get currentSupernode(): string | null { return this.supernodes[this.supernodeAt] ?? null; }
  get verifiedPieces(): number { return this.have?.count ?? 0; }
  get blacklisted(): ReadonlySet<PeerId> { return this.localBlacklist; }

  poll(): PeerEffect | undefined { return this.out.poll(); }

  nextDeadlineMs(): number | null {
    let next = this.retryAtMs ?? Infinity;
    for (let i = 0; i < this.running.length; i++) if (this.running[i].deadlineMs < next) next = this.running[i].deadlineMs;
    next = Math.min(next, this.rescueAtMs());
    if (this.awaitingSinceMs !== null) next = Math.min(next, this.awaitingSinceMs + this.cfg.pullTimeoutMs);
    return next === Infinity ? null : next;
  }

  handle(nowMs: number, input: PeerInput): void {
    this.clock.advance(nowMs);
    if (this.phase === 'failed') return;
    if (this.phase === 'done') {
      // Finished, the driver may still be closing the file: the CDN's digest is still news to it.
      if (input.kind === 'supernode-message' && input.msg.kind === 'file-digest' && input.msg.taskId === this.taskId) this.learnFileDigest(input.msg.fileDigest);
      return;
    }
    switch (input.kind) {
      case 'start': this.onStart(nowMs, input); break;
      case 'supernode-message':
        if (input.from === this.currentSupernode && input.msg.taskId === this.taskId) this.onSupernodeMessage(nowMs, input.msg);
        break;
      case 'supernode-down':
        if (input.supernode === this.currentSupernode && (this.phase === 'registered' || this.phase === 'downloading')) this.migrate(nowMs);
        break;
      case 'piece-fetched': this.onFetched(nowMs, input.piece, input.source, input.digest, input.failure); break;
      case 'write-failed':
        this.fail(`cannot write piece ${input.piece}: ${input.reason}`);
        break;
      case 'source-fetched':
        if (this.phase !== 'source') break;
        if (input.ok) this.finish(input.sizeBytes ?? this.plan?.totalBytes ?? 0);
        else this.fail(`download from the source failed: ${input.reason ?? 'unknown error'}`);
        break;
      case 'timeout': this.onTimeout(nowMs); break;
    }
    this.ensureProgress(nowMs);
  }

  /**
   * Liveness: a peer that is downloading always has something that will move it — a running
   * fetch, an outstanding pull, or a retry timer. Should the supernode's view and ours ever
   * diverge (it believes pieces run here that do not), the retry pulls again.
   */
  private ensureProgress(nowMs: number): void {
    if ((this.phase === 'downloading' || this.phase === 'registered') && this.running.length === 0
      && this.awaitingSinceMs === null && this.retryAtMs === null) {
      this.retryAtMs = nowMs + this.cfg.waitMaxMs;
    }
  }

  private onStart(nowMs: number, input: Extract<PeerInput, { kind: 'start' }>): void {
    if (this.phase !== 'idle') return;
    this.taskId = input.taskId;
    this.task = input.task;
    this.supernodes = input.supernodes.slice(0, 64);
    this.uploadAddr = input.uploadAddr;
    this.pattern = input.pattern === 'cdn' ? 'cdn' : 'p2p';
    this.uploadRateBytesPerSec = Math.max(0, Math.floor(input.uploadRateBytesPerSec ?? 0));
    this.placement = { ...(input.idc ? { idc: input.idc } : {}), ...(input.location ? { location: input.location } : {}) };
    this.resumeHave = input.have ?? [];
    this.resumePlan = input.resumePlan ?? null;
    if (input.pattern === 'source' || this.supernodes.length === 0) {
      if (input.pattern === 'source' || this.local.backToSource) return this.toSource();
      return this.fail('no supernode given; set --node, or allow back-to-source');
    }
    this.register(nowMs);
  }

  private register(nowMs: number): void {
    this.phase = this.plan ? 'downloading' : 'registered';
    this.results = [];
    this.retryAtMs = null;
    this.awaitingSinceMs = nowMs;
    // Pieces held are named with the plan they were cut by (the supernode's last task-info, or
    // the resumed download's), so a supernode cutting the file otherwise ignores them.
    const held = this.have && this.plan
      ? { have: rangesOf(this.have), plan: { totalBytes: this.plan.totalBytes, pieceSizeBytes: this.plan.pieceSizeBytes } }
      : this.resumedRanges();
    this.out.push({
      kind: 'send', to: this.currentSupernode!, msg: {
        kind: 'register', taskId: this.taskId, task: this.task, uploadAddr: this.uploadAddr,
        have: held?.have ?? [],
        ...(held && held.have.length > 0 ? { havePlan: held.plan } : {}),
        blacklist: [...this.localBlacklist], pattern: this.pattern, lateDigest: true,
        ...(this.uploadRateBytesPerSec > 0 ? { uploadRateBytesPerSec: this.uploadRateBytesPerSec } : {}),
        ...this.placement,
      },
    });
  }

  /**
   * Before any plan: the pieces a resumed download holds on disk, in the plan they were cut by, so
   * the supernode schedules only the rest (it ignores them if its plan differs).
   */
  private resumedRanges(): { have: PieceRange[]; plan: { totalBytes: number; pieceSizeBytes: number } } | null {
    const plan = this.resumePlan;
    if (plan === null || this.resumeHave.length === 0 || !(plan.pieceSizeBytes > 0)) return null;
    const pieceCount = Math.ceil(plan.totalBytes / plan.pieceSizeBytes);
    if (!Number.isSafeInteger(pieceCount) || pieceCount <= 0 || pieceCount > MAX_RESUME_PIECES) return null;
    const held = new Bitset(pieceCount);
    for (const piece of this.resumeHave) if (Number.isInteger(piece) && piece >= 0 && piece < pieceCount) held.add(piece);
    return { have: rangesOf(held), plan: { totalBytes: plan.totalBytes, pieceSizeBytes: plan.pieceSizeBytes } };
  }

  private onSupernodeMessage(nowMs: number, msg: SupernodeToPeer): void {
    switch (msg.kind) {
      case 'task-info': {
        this.awaitingSinceMs = null;
        this.adoptSettings(msg.settings);
        this.grant = msg.grant ?? null;
        if (msg.supernodeKey) this.out.push({ kind: 'trust', taskId: this.taskId, supernodeKey: msg.supernodeKey });
        if (!this.plan) this.adoptPlan(msg);
        else if (msg.fileDigest) this.learnFileDigest(msg.fileDigest);
        if (this.have!.full) return this.finish(0);
        this.phase = 'downloading';
        return this.pull(nowMs);
      }
      case 'assign': {
        this.awaitingSinceMs = null;
        if (msg.grant) this.grant = msg.grant;
        if (!this.plan) return;
        for (const assignment of msg.pieces) this.startFetch(nowMs, assignment);
        this.retryAtMs = msg.retryAfterMs > 0 ? nowMs + msg.retryAfterMs : null;
        if (this.results.length > 0 && this.running.length < this.cfg.peerDownLimit) this.pull(nowMs);
        return;
      }
      case 'wait':
        this.awaitingSinceMs = null;
        this.retryAtMs = nowMs + Math.max(1, msg.retryAfterMs);
        if (this.results.length > 0) this.pull(nowMs);
        return;
      case 'task-failed':
        this.fail(msg.reason, msg.status);
        return;
      case 'file-digest':
        if (this.plan) this.learnFileDigest(msg.fileDigest);
        return;
    }
  }

  /** The CDN's whole-file digest, handed to the driver once (it need not hash the file itself). */
  private learnFileDigest(fileDigest: string): void {
    if (this.fileDigestKnown) return;
    this.fileDigestKnown = true;
    this.out.push({ kind: 'file-digest', taskId: this.taskId, fileDigest });
  }

  private adoptSettings(settings: PeerSettings | undefined): void {
    if (settings) {
      this.cfg = settings;
      this.settingsOrigin = 'supernode';
    } else {
      this.cfg = DEFAULT_PEER_SETTINGS;
      this.settingsOrigin = 'default';
      this.out.push({ kind: 'log', level: 'warn', message: `supernode ${this.currentSupernode} sent no settings (an older supernode?); running with the defaults` });
    }
    this.out.push({ kind: 'settings', settings: this.cfg, origin: this.settingsOrigin });
  }

  private adoptPlan(info: Extract<SupernodeToPeer, { kind: 'task-info' }>): void {
    this.plan = { totalBytes: info.totalBytes, pieceSizeBytes: info.pieceSizeBytes, pieceCount: info.pieceCount };
    this.have = new Bitset(info.pieceCount);
    const resumable = this.resumePlan !== null && this.resumePlan.totalBytes === info.totalBytes
      && this.resumePlan.pieceSizeBytes === info.pieceSizeBytes;
    if (resumable) {
      for (const piece of this.resumeHave) if (Number.isInteger(piece) && piece >= 0 && piece < info.pieceCount) this.have.add(piece);
    }
    this.out.push({
      kind: 'plan', taskId: this.taskId, totalBytes: info.totalBytes, pieceSizeBytes: info.pieceSizeBytes,
      pieceCount: info.pieceCount, ...(info.fileDigest ? { fileDigest: info.fileDigest } : {}),
      discardLocal: this.resumeHave.length > 0 && !resumable,
    });
    this.fileDigestKnown = info.fileDigest !== undefined;
    this.resumeHave = [];
  }

  private startFetch(nowMs: number, assignment: Assignment): void {
    const { piece, source } = assignment;
    const plan = this.plan!;
    if (!Number.isInteger(piece) || piece < 0 || piece >= plan.pieceCount) return;
    if (this.runningAt(piece) >= 0) {
      // Already fetching it from another source: hand the duplicate back so the supernode
      // does not count it as running here.
      this.results.push({ piece, source, ok: false, failure: 'busy' });
      return;
    }
    if (this.have!.has(piece)) {
      // The supernode did not know we hold it (we migrated mid-fetch): settle it as held.
      this.results.push({ piece, source, ok: true });
      return;
    }
    if (this.running.length >= this.cfg.peerDownLimit) {
      this.results.push({ piece, source, ok: false, failure: 'busy' });
      return;
    }
    const { startByte, endByte } = pieceRange(plan, piece);
    const sourceAddr = source === SUPERNODE ? this.currentSupernode! : assignment.sourceAddr;
    this.running.push({
      piece, source, digest: assignment.digest, startedMs: nowMs, deadlineMs: nowMs + this.cfg.pieceTimeoutMs,
      slowAtMs: this.slowAtMs(nowMs, source, endByte - startByte),
    });
    const effect: Extract<PeerEffect, { kind: 'fetch-piece' }> = {
      kind: 'fetch-piece', taskId: this.taskId, piece, source, sourceAddr, startByte, endByte,
      expectedDigest: assignment.digest, timeoutMs: this.cfg.pieceTimeoutMs + this.cfg.fetchGraceMs,
    };
    // Set after the literal rather than spread into it: one object per fetch, not three.
    if (this.grant) effect.grant = this.grant;
    this.out.push(effect);
  }

  private onFetched(nowMs: number, piece: number, source: PeerId, digest: string | null, failure?: FailureKind): void {
    const at = this.runningAt(piece);
    if (at < 0) return;
    const run = this.running[at];
    if (run.source !== source || this.phase !== 'downloading') return;
    this.running.splice(at, 1);
    if (digest !== null && digest === run.digest && run.digest !== '') {
      const { startByte, endByte } = pieceRange(this.plan!, piece);
      this.have!.add(piece);
      this.fetchedMs += nowMs - run.startedMs;
      this.fetchedBytes += endByte - startByte;
      if (source === SUPERNODE) this.fromSupernodeBytes += endByte - startByte;
      else this.fromPeersBytes += endByte - startByte;
      this.out.push({ kind: 'write-piece', taskId: this.taskId, piece, startByte, endByte });
      this.results.push({ piece, source, ok: true });
    } else {
      const kind: FailureKind = digest !== null ? 'corrupt' : (failure ?? 'unreachable');
      this.results.push({ piece, source, ok: false, failure: kind });
      // A busy source, or one that refused our grant (its supernode renews it), did nothing wrong.
      if (blameFor(kind) !== 'none' && source !== SUPERNODE) this.blacklistLocally(source);
      if (kind === 'corrupt') this.out.push({ kind: 'log', level: 'warn', message: `piece ${piece} from ${source} failed verification; not written` });
    }
    if (this.have!.full) {
      this.sendResults({ kind: 'report', taskId: this.taskId, results: this.results });
      this.results = [];
      return this.finish(0);
    }
    if (this.awaitingSinceMs === null) this.pull(nowMs);
  }

  private onTimeout(nowMs: number): void {
    // Expired fetches, and slow ones when they hold the download up, leave the list; the rest keep their order.
    const rescue = this.rescueAtMs() <= nowMs;
    let kept = 0;
    for (let i = 0; i < this.running.length; i++) {
      const run = this.running[i];
      if (run.deadlineMs > nowMs && (!rescue || run.slowAtMs > nowMs)) {
        this.running[kept++] = run;
        continue;
      }
      const piece = run.piece;
      const failure: FailureKind = run.deadlineMs <= nowMs ? 'timeout' : 'slow';
      this.out.push({ kind: 'cancel-fetch', taskId: this.taskId, piece, source: run.source });
      this.results.push({ piece, source: run.source, ok: false, failure });
      if (failure === 'slow') {
        this.out.push({ kind: 'log', level: 'info', message: `piece ${piece} from ${run.source} still running after ${Math.round(nowMs - run.startedMs)} ms, over ${this.cfg.slowFetchFactor}x the download's pace: asking for it again elsewhere` });
      }
      if (run.source !== SUPERNODE) this.blacklistLocally(run.source);
    }
    this.running.length = kept;
    if (this.awaitingSinceMs !== null && nowMs >= this.awaitingSinceMs + this.cfg.pullTimeoutMs) {
      return this.migrate(nowMs);
    }
    if (this.retryAtMs !== null && nowMs >= this.retryAtMs) this.retryAtMs = null;
    if (this.phase === 'downloading' && this.awaitingSinceMs === null && this.retryAtMs === null) this.pull(nowMs);
    else if (this.phase === 'registered' && this.awaitingSinceMs === null && this.retryAtMs === null) this.pull(nowMs);
  }

  private pull(nowMs: number): void {
    if (this.awaitingSinceMs !== null) return;
    if (this.phase === 'downloading' && this.running.length >= Math.min(this.cfg.piecesPerPull, this.cfg.peerDownLimit)
      && this.results.length === 0) return;
    this.retryAtMs = null;
    this.awaitingSinceMs = nowMs;
    this.sendResults({ kind: 'pull', taskId: this.taskId, results: this.results });
    this.results = [];
  }

  /**
   * A pull or report that claims pieces waits for the driver to make them servable (on disk, known
   * to the uploader), bounded so that the pull still lands well within `pullTimeoutMs`.
   */
  private sendResults(msg: Extract<PeerToSupernode, { kind: 'pull' | 'report' }>): void {
    const claims = msg.results.some((result) => result.ok);
    const waitForUploaderMs = claims ? Math.min(this.cfg.uploaderWaitMs, Math.floor(this.cfg.pullTimeoutMs / 4)) : 0;
    const effect: Extract<PeerEffect, { kind: 'send' }> = { kind: 'send', to: this.currentSupernode!, msg };
    if (waitForUploaderMs > 0) effect.waitForUploaderMs = waitForUploaderMs;
    this.out.push(effect);
  }

  private migrate(nowMs: number): void {
    this.awaitingSinceMs = null;
    // The next supernode knows nothing of what the last one assigned: drop every running fetch
    // so both sides agree on what runs here (at most peerDownLimit pieces are fetched again).
    this.cancelRunning();
    this.supernodeAt++;
    if (this.supernodeAt < this.supernodes.length) {
      this.out.push({ kind: 'log', level: 'warn', message: `supernode ${this.supernodes[this.supernodeAt - 1]} is unreachable; moving to ${this.currentSupernode}` });
      return this.register(nowMs);
    }
    if (this.local.backToSource && this.pattern === 'p2p') return this.toSource();
    this.fail('no supernode reachable (tried every one in the list) and back-to-source is disabled');
  }

  private toSource(): void {
    this.cancelRunning();
    this.phase = 'source';
    this.awaitingSinceMs = null;
    this.retryAtMs = null;
    const missing = this.plan && this.have && this.have.count > 0 && !this.have.full ? missingRanges(this.plan, this.have) : null;
    if (missing) this.out.push({ kind: 'log', level: 'info', message: `back to the source for the ${this.plan!.pieceCount - this.have!.count} pieces not held, in ${missing.length} ranged request(s)` });
    this.out.push({ kind: 'fetch-source', taskId: this.taskId, task: this.task, ...(missing ? { missing } : {}) });
  }

  /**
   * When a fetch of `sizeBytes` from `source`, started now, counts as slow: `slowFetchFactor`
   * times what the download's verified fetches took for as many bytes (before any has finished,
   * a piece per `slowFetchMinMs`), at least `slowFetchMinMs`. Never for the supernode (the
   * fallback of last resort), nor with the rescue off.
   */
  private slowAtMs(nowMs: number, source: PeerId, sizeBytes: number): number {
    const factor = this.cfg.slowFetchFactor;
    if (factor === 0 || source === SUPERNODE) return Infinity;
    // Before any fetch has finished, a piece per slowFetchMinMs is the pace.
    const expectedMs = this.fetchedBytes > 0 ? this.fetchedMs * sizeBytes / this.fetchedBytes : this.cfg.slowFetchMinMs;
    return nowMs + Math.max(this.cfg.slowFetchMinMs, factor * expectedMs);
  }

  /**
   * When slow fetches are rescued: once one is slow in the tail (every missing piece runs here,
   * so a slow fetch holds up the end of the download), or once every download slot is taken by a
   * slow fetch (all stuck, e.g. on a source that stopped answering). Infinity when neither can come.
   */
  private rescueAtMs(): number {
    const running = this.running;
    if (this.cfg.slowFetchFactor === 0 || this.phase !== 'downloading' || running.length === 0) return Infinity;
    const tail = running.length >= this.plan!.pieceCount - this.have!.count;
    if (!tail && running.length < this.cfg.peerDownLimit) return Infinity;
    let at = tail ? Infinity : -Infinity;
    for (let i = 0; i < running.length; i++) at = tail ? Math.min(at, running[i].slowAtMs) : Math.max(at, running[i].slowAtMs);
    return at;
  }

  /** Where the running fetch of `piece` is in `running`, or -1. */
  private runningAt(piece: number): number {
    for (let i = 0; i < this.running.length; i++) if (this.running[i].piece === piece) return i;
    return -1;
  }

  /** Cancel every running fetch, oldest first. */
  private cancelRunning(): void {
    for (const run of this.running) this.out.push({ kind: 'cancel-fetch', taskId: this.taskId, piece: run.piece, source: run.source });
    this.running.length = 0;
  }

  private blacklistLocally(source: PeerId): void {
    if (this.localBlacklist.has(source)) return;
    if (this.localBlacklist.size >= this.cfg.maxLocalBlacklist) {
      this.localBlacklist.delete(this.localBlacklist.values().next().value as PeerId);
    }
    this.localBlacklist.add(source);
  }

  private finish(fromSourceBytes: number): void {
    this.phase = 'done';
    this.awaitingSinceMs = null;
    this.retryAtMs = null;
    this.out.push({
      kind: 'done', taskId: this.taskId, fromPeersBytes: this.fromPeersBytes,
      fromSupernodeBytes: this.fromSupernodeBytes, fromSourceBytes,
    });
  }

  private fail(reason: string, status?: number): void {
    const supernode = this.currentSupernode;
    if (supernode && (this.phase === 'registered' || this.phase === 'downloading')) {
      this.out.push({ kind: 'send', to: supernode, msg: { kind: 'leave', taskId: this.taskId } });
    }
    this.cancelRunning();
    this.phase = 'failed';
    this.awaitingSinceMs = null;
    this.retryAtMs = null;
    this.out.push({ kind: 'failed', taskId: this.taskId, reason, ...(status !== undefined ? { status } : {}) });
  }
}

/**
 * The byte ranges of the pieces `have` lacks: one per run of adjacent missing pieces; past
 * MAX_SOURCE_RANGES runs, the smallest gaps of held pieces between them are fetched too.
 */
export function missingRanges(plan: PiecePlan, have: Bitset): ByteRange[] {
  const runs: { first: number; last: number }[] = [];
  for (let piece = 0; piece < plan.pieceCount; piece++) {
    if (have.has(piece)) continue;
    const run = runs[runs.length - 1];
    if (run && run.last === piece - 1) run.last = piece;
    else runs.push({ first: piece, last: piece });
  }
  if (runs.length > MAX_SOURCE_RANGES) {
    // Keep the widest gaps; ties keep the earlier one.
    const gaps = runs.slice(1).map((run, i) => ({ i, width: run.first - runs[i].last }));
    gaps.sort((a, b) => b.width - a.width || a.i - b.i);
    const kept = new Set(gaps.slice(0, MAX_SOURCE_RANGES - 1).map((gap) => gap.i));
    const merged = [runs[0]];
    for (let i = 1; i < runs.length; i++) {
      if (kept.has(i - 1)) merged.push(runs[i]);
      else merged[merged.length - 1] = { first: merged[merged.length - 1].first, last: runs[i].last };
    }
    runs.splice(0, runs.length, ...merged);
  }
  return runs.map((run) => ({ startByte: pieceRange(plan, run.first).startByte, endByte: pieceRange(plan, run.last).endByte }));
}
