/**
 * Uploader: the serving side of a peer (and of the supernode, which is a special peer).
 *
 * Theory of operation. The uploader knows which pieces of which tasks it holds and how many
 * uploads are running. A piece request is served only to a requester the supernode admitted to
 * the task — it carries a grant for that task, unexpired, whose signature the driver verified
 * with a supernode key this uploader trusts for the task (`grant`; null when there is none or it
 * does not verify) — and only when the piece is held and fewer than `uploadLimit` uploads run.
 * Otherwise it is refused with the reason (`unauthorized` first, so a stranger learns nothing of
 * what is held), and the requester's core treats that as a failed fetch. A task not requested for `unlistAfterMs` (seed: 3 minutes)
 * leaves the upload list; once nothing is listed and nothing runs for `idleExitMs`, the
 * uploader asks its driver to exit. It knows nothing of files: the driver maps a served piece to
 * bytes.
 *
 * Its slots and unlist time come from the fleet's settings (settings.ts `uploaderConfigFor`): a
 * host's uploader starts with the defaults and is reconfigured (`configure`) when its peer
 * learns its supernode's settings; running uploads are never cut, a lower limit only refuses
 * new ones until enough have finished.
 *
 *   input                          effects
 *   configure                      -
 *   list-task / have-piece         -
 *   piece-request (granted, held, free)  serve { to, requestId, taskId, piece }
 *   piece-request (no valid grant)       refuse { to, requestId, reason: unauthorized }
 *   piece-request (else)                 refuse { to, requestId, reason: missing | busy }
 *   upload-finished                -   (frees a slot)
 *   unlist-task                    -
 *   timeout                        unlisted { taskId } ... ; exit when idle
 */
import { Bitset } from './bitset.ts';
import { Clock, Outbox } from './drive.ts';
import type { PeerId, TaskId } from './protocol.ts';

/**
 * What the driver vouches for about a request's grant: its signature verified with a key trusted
 * for its task. The core checks the task and the expiry, on this uploader's clock.
 */
export interface VerifiedGrant { taskId: TaskId; expiresAtMs: number }

export type UploaderInput =
  /** New limits from the fleet's settings; the host's idle-exit time and task bound are kept. */
  | { kind: 'configure'; config: Pick<UploaderConfig, 'uploadLimit' | 'perRequesterLimit' | 'unlistAfterMs'> }
  | { kind: 'list-task'; taskId: TaskId; pieceCount: number }
  | { kind: 'have-piece'; taskId: TaskId; piece: number }
  | { kind: 'unlist-task'; taskId: TaskId }
  | { kind: 'piece-request'; from: PeerId; requestId: number; taskId: TaskId; piece: number; grant: VerifiedGrant | null }
  | { kind: 'upload-finished'; requestId: number; from: PeerId }
  | { kind: 'timeout' };

export type UploaderEffect =
  | { kind: 'serve'; to: PeerId; requestId: number; taskId: TaskId; piece: number }
  | { kind: 'refuse'; to: PeerId; requestId: number; reason: 'missing' | 'busy' | 'unauthorized' }
  | { kind: 'unlisted'; taskId: TaskId }
  | { kind: 'exit' };

export interface UploaderConfig {
  uploadLimit: number;
  /** 0 = never unlist. */
  unlistAfterMs: number;
  /** 0 = never exit. */
  idleExitMs: number;
  maxTasks: number;
  /**
   * Uploads one requester may hold at once (0 or absent = no cap). The supernode sets it to
   * peerDownLimit so a peer requesting directly cannot take every slot.
   */
  perRequesterLimit?: number;
}

/** A host uploader's config until its peer learns the fleet's settings (core/settings.ts). */
export const DEFAULT_UPLOADER: Readonly<UploaderConfig> = Object.freeze({
  uploadLimit: 5,
  perRequesterLimit: 4,
  unlistAfterMs: 3 * 60_000,
  idleExitMs: 5 * 60_000,
  maxTasks: 10_000,
});

interface ListedTask { pieces: Bitset; lastUsedMs: number }

export class Uploader {
  private readonly clock = new Clock();
  private readonly out = new Outbox<UploaderEffect>();
  private readonly tasks = new Map<TaskId, ListedTask>();
  /**
   * The uploads running, one per index: who asked (`runningFrom`) and the request id
   * (`runningIds`). At most `uploadLimit` of them (5 on a host, 32 on a supernode by default), so
   * a scan is cheaper than a map entry per requester, which a host serving a different requester
   * at every upload kept adding and deleting (at 10,000 simulated hosts, with each host's map
   * its own scattered objects, that was most of the uploader's time).
   */
  private readonly runningFrom: PeerId[] = [];
  private readonly runningIds: number[] = [];
  private idleSinceMs = 0;
  private exited = false;

  private cfg: UploaderConfig;

  constructor(cfg: UploaderConfig = DEFAULT_UPLOADER) {
    this.cfg = { ...cfg };
  }

  get activeUploads(): number { return this.runningIds.length; }
  get config(): Readonly<UploaderConfig> { return this.cfg; }
  get listedTasks(): number { return this.tasks.size; }
  holds(taskId: TaskId, piece: number): boolean { return this.tasks.get(taskId)?.pieces.has(piece) ?? false; }

  handle(nowMs: number, input: UploaderInput): void {
    const firstInput = this.clock.nowMs === -Infinity;
    const busyBefore = this.busy();
    this.clock.advance(nowMs);
    // Idle time counts from the input that ended the last task or upload (busy until now), or
    // from the first input, as the clock's origin is the driver's; not from the last busy input.
    if (firstInput || busyBefore) this.idleSinceMs = nowMs;
    switch (input.kind) {
      case 'configure': {
        const { uploadLimit, perRequesterLimit, unlistAfterMs } = input.config;
        this.cfg = { ...this.cfg, uploadLimit: Math.max(1, uploadLimit), perRequesterLimit: perRequesterLimit ?? 0, unlistAfterMs };
        break;
      }
      case 'list-task': {
        if (!this.tasks.has(input.taskId)) {
          if (this.tasks.size >= this.cfg.maxTasks) this.evictOldest();
          this.tasks.set(input.taskId, { pieces: new Bitset(input.pieceCount), lastUsedMs: nowMs });
        }
        break;
      }
      case 'have-piece': {
        const task = this.tasks.get(input.taskId);
        if (task && input.piece >= 0 && input.piece < task.pieces.size) task.pieces.add(input.piece);
        break;
      }
      case 'unlist-task':
        this.tasks.delete(input.taskId);
        break;
      case 'piece-request': {
        const { grant } = input;
        if (grant === null || grant.taskId !== input.taskId || grant.expiresAtMs <= nowMs) {
          this.out.push({ kind: 'refuse', to: input.from, requestId: input.requestId, reason: 'unauthorized' });
          break;
        }
        const task = this.tasks.get(input.taskId);
        if (!task || !task.pieces.has(input.piece)) {
          this.out.push({ kind: 'refuse', to: input.from, requestId: input.requestId, reason: 'missing' });
          break;
        }
        task.lastUsedMs = nowMs;
        // Busy: every slot taken, this request already running, or the requester at its own limit.
        const from = this.runningFrom;
        const running = from.length;
        let mine = 0;
        let duplicate = false;
        for (let i = 0; i < running; i++) {
          if (from[i] !== input.from) continue;
          mine++;
          if (this.runningIds[i] === input.requestId) duplicate = true;
        }
        const perRequester = this.cfg.perRequesterLimit ?? 0;
        if (running >= this.cfg.uploadLimit || duplicate || (perRequester > 0 && mine >= perRequester)) {
          this.out.push({ kind: 'refuse', to: input.from, requestId: input.requestId, reason: 'busy' });
          break;
        }
        from.push(input.from);
        this.runningIds.push(input.requestId);
        this.out.push({ kind: 'serve', to: input.from, requestId: input.requestId, taskId: input.taskId, piece: input.piece });
        break;
      }
      case 'upload-finished': {
        const from = this.runningFrom;
        const ids = this.runningIds;
        let at = ids.length - 1;
        while (at >= 0 && (ids[at] !== input.requestId || from[at] !== input.from)) at--;
        if (at < 0) break;
        // The last upload takes the finished one's place (the order of running uploads means nothing).
        from[at] = from[from.length - 1];
        ids[at] = ids[ids.length - 1];
        from.pop();
        ids.pop();
        break;
      }
      case 'timeout':
        this.expire(nowMs);
        break;
    }
  }

  private busy(): boolean { return this.runningIds.length > 0 || this.tasks.size > 0; }

  poll(): UploaderEffect | undefined { return this.out.poll(); }

  nextDeadlineMs(): number | null {
    if (this.exited) return null;
    let next: number | null = null;
    if (this.cfg.unlistAfterMs > 0) {
      for (const task of this.tasks.values()) {
        const at = task.lastUsedMs + this.cfg.unlistAfterMs;
        if (next === null || at < next) next = at;
      }
    }
    if (this.cfg.idleExitMs > 0 && this.runningIds.length === 0 && this.tasks.size === 0) {
      const at = this.idleSinceMs + this.cfg.idleExitMs;
      if (next === null || at < next) next = at;
    }
    return next;
  }

  private expire(nowMs: number): void {
    if (this.cfg.unlistAfterMs > 0) {
      for (const [taskId, task] of this.tasks) {
        if (nowMs >= task.lastUsedMs + this.cfg.unlistAfterMs) {
          this.tasks.delete(taskId);
          this.out.push({ kind: 'unlisted', taskId });
        }
      }
    }
    if (this.cfg.idleExitMs > 0 && !this.exited && this.runningIds.length === 0 && this.tasks.size === 0
      && nowMs >= this.idleSinceMs + this.cfg.idleExitMs) {
      this.exited = true;
      this.out.push({ kind: 'exit' });
    }
  }

  private evictOldest(): void {
    let oldest: TaskId | null = null;
    let oldestMs = Infinity;
    for (const [taskId, task] of this.tasks) if (task.lastUsedMs < oldestMs) { oldest = taskId; oldestMs = task.lastUsedMs; }
    if (oldest !== null) {
      this.tasks.delete(oldest);
      this.out.push({ kind: 'unlisted', taskId: oldest });
    }
  }
}
