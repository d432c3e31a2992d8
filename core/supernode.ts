/**
 * The supernode state machine: tasks, their CDN progress, registered peers and pulls.
 *
 * Theory of operation. A task is born when a peer registers a taskId the supernode does not
 * know: the machine asks its CDN to fetch the source (`cdn-fetch`). Once the CDN reports the
 * length, the piece plan exists and every registered peer gets `task-info`; each piece the CDN
 * stores (`cdn-piece`) becomes schedulable at once — peers do not wait for the whole file. A
 * registration on a task already cached first revalidates it with the source (`cdn-revalidate`,
 * at most once per `revalidateAfterMs`); a changed source drops the cache and starts over. A task
 * fetched with credentials makes every later requester prove its own credentials (`check-auth`)
 * before it is given any piece; a check the source passed stands for `revalidateAfterMs` for later
 * requesters with the same credentials, so a fleet with one token costs the source one check.
 *
 * Bounded cache and preheat. The CDN evicts whole tasks to stay under its size limit, but never
 * one `cacheNeeded` says the machine needs (fetching, revalidating, or a registered peer still
 * downloading); `cdn-evicted` then forgets the task and sends its remaining peers — complete
 * seeders — away, so nobody is sent to a cache that is gone. `preheat` fetches (or revalidates)
 * a task nobody registered for yet; a preheated task reports each change (`preheat-update`) until
 * it is ready or failed, and is not the idle task dropped at the task limit while it fetches.
 *
 * Pulls are answered by the task's `TaskSwarm` (scheduler.ts): `assign` with pieces and
 * sources, or `wait` with a back-off hint that doubles per consecutive empty answer. A peer left
 * short of work is queued as a waiter. Capacity appears at a source — a piece lands at the CDN,
 * a peer gains a piece, an upload slot frees — and the waiters that source could serve (they
 * lack what it holds) are rescheduled, oldest first, up to `wakeBatch` of them or until its
 * slots are taken, and sent an `assign` unasked; waiters it could not serve keep their place.
 * So nobody spins, and nobody sleeps through work a free source could give it. Results in pulls/reports
 * settle running pieces and feed the blacklists. A running piece with no result after twice
 * `pieceTimeoutMs` is released without blame (its requester vanished or is stuck).
 *
 * Admission: `task-info` goes only to a peer admitted to the task (after its credential check)
 * and carries its grant for `grantTtlMs` (protocol.ts `Grant`; the driver signs it); an `assign`
 * renews it past half its life, or when the peer reports an uploader refused it.
 *
 * Trust: failure reports are weighed by blacklist.ts (distinct credible accusers); a peer they
 * accuse enough is suspended and checked by the supernode itself (`probe-peer`) before it is
 * globally blacklisted. A cached piece peers report corrupt is re-read whole by the CDN
 * (`cdn-verify-piece`) and refetched if it rotted; a piece lost more than `MAX_CDN_PIECE_LOSSES`
 * times fails the task instead of looping on a bad disk.
 *
 *   input                              effects
 *   register (new task)                cdn-fetch; send wait
 *   register (plan known)              send task-info (settings, grant) [check-auth | cdn-revalidate]
 *   pull                               send assign (grant when due) | wait | task-failed;
 *                                      [probe-peer] (an accused peer) [cdn-verify-piece] (a cached piece reported corrupt)
 *   report                             -   (settles results, as pull)
 *   cdn-length / cdn-done              send task-info to every registered peer
 *   cdn-piece                          wakes waiters (send assign)
 *   cdn-piece-lost                     cdn-refetch-piece | (lost too often) send task-failed; cdn-drop
 *   cdn-piece-intact                   the piece is assigned again; wakes waiters
 *   probe-result                       served: peer resumed, accusers discredited | failed: global blacklist (log)
 *   cdn-failed                         send task-failed to every peer; cdn-drop
 *   cdn-validated changed              send task-failed to peers mid-download; cdn-drop; cdn-fetch
 *   cdn-evicted                        send task-failed to every peer (task forgotten)
 *   preheat                            [cdn-fetch | cdn-revalidate]; preheat-update (and on each change)
 *   peer-gone / leave                  releases its work; wakes waiters
 *   timeout                            releases expired running pieces; unanswered probes prove nothing
 */
import { blameFor } from './blacklist.ts';
import type { CoreConfig } from './config.ts';
import { Clock, Outbox } from './drive.ts';
import { forEachPiece, type PieceRange } from './piece-ranges.ts';
import { pieceBytes, pieceRange, planPieces, type PiecePlan } from './pieces.ts';
import type { Assignment, Grant, PeerId, PeerToSupernode, PieceResult, RegisterMsg, SupernodeToPeer, TaskId, TaskSpec } from './protocol.ts';
import { SUPERNODE } from './protocol.ts';
import type { Rng } from './rng.ts';
import { randomInt } from './rng.ts';
import { SUPERNODE_INDEX, TaskSwarm } from './scheduler.ts';
import type { SupernodeEffect, SupernodeInput } from './supernode-io.ts';
import { peerSettingsOf, type PeerSettings } from './settings.ts';
import type { Placement } from './topology.ts';
import { WaiterList } from './waiters.ts';

/** A wake looks at up to this many waiters per one it may reschedule (wakeBatch). */
const WAKE_SCAN_FACTOR = 8;

type TaskPhase = 'fetching' | 'ready' | 'revalidating';

interface PeerSlot {
  id: PeerId;
  /** Dense index in the swarm, once the plan exists. */
  index: number;
  uploadAddr: string;
  uploadRateBytesPerSec: number;
  placement: Placement;
  cdnOnly: boolean;
  /** Pieces claimed at registration (ranges), applied when the plan exists. */
  pendingHave: PieceRange[];
  /** The plan pendingHave counts in, when the peer named one (resume); null = ours. */
  pendingHavePlan: { totalBytes: number; pieceSizeBytes: number } | null;
  pendingBlacklist: PeerId[];
  authorized: boolean;
  /** The credentials this peer registered with (credentialKey), to remember a successful check. */
  credentials: string;
  /** Has been sent task-info: it may pull. */
  informed: boolean;
  waitStreak: number;
  waiting: boolean;
  prevWaiter: PeerSlot | null;
  nextWaiter: PeerSlot | null;
  left: boolean;
  /** When its current grant expires (0 = none issued yet), and whether an uploader refused it. */
  grantExpiresAtMs: number;
  grantRefused: boolean;
  /** Takes a `file-digest` message (register.lateDigest). */
  lateDigest: boolean;
}

interface Task {
  taskId: TaskId;
  spec: TaskSpec;
  phase: TaskPhase;
  plan: PiecePlan | null;
  swarm: TaskSwarm | null;
  digests: string[];
  fileDigest?: string;
  peers: Map<PeerId, PeerSlot>;
  byIndex: PeerSlot[];
  /** Swarm index of every peer that ever joined, kept after it leaves so late results settle. */
  indexOf: Map<PeerId, number>;
  waiters: WaiterList<PeerSlot>;
  needsAuth: boolean;
  /** Credentials (credentialKey) the source accepted for this task, and when: checked once per revalidateAfterMs. */
  allowedCredentials: Map<string, number>;
  validatedAtMs: number;
  lastUsedMs: number;
  /** Cached pieces peers reported corrupt, being re-read by the CDN; and when each was last found intact. */
  cdnSuspect: Set<number>;
  cdnIntactAtMs: Map<number, number>;
  /** Times each piece was lost from the cache (bounded: a disk that keeps losing one fails the task). */
  cdnLosses: Map<number, number>;
  /** Peers being probed (swarm index -> the probe). */
  probes: Map<number, { piece: number; startedMs: number }>;
  /** Preheated and not yet ready or failed: every change is reported. */
  watched: boolean;
  /** Bytes of the pieces the CDN holds (for preheat progress). */
  cdnBytes: number;
}

export interface SupernodeStats {
  tasks: number;
  peers: number;
  piecesAssignedFromSupernode: number;
  piecesAssignedFromPeers: number;
  /** Peers on a global blacklist (counted per task), and of those, self-isolated ones. */
  peersGloballyBlacklisted: number;
  peersSelfIsolated: number;
}

export class Supernode {
  private readonly clock = new Clock();
  private readonly out = new Outbox<SupernodeEffect>();
  private readonly tasks = new Map<TaskId, Task>();
  private readonly peerTasks = new Map<PeerId, Set<TaskId>>();
  private fromSupernode = 0;
  private fromPeers = 0;
  private sweepAtMs: number | null = null;
  /** What every peer is told to run with (task-info): the fleet's settings are this supernode's. */
  private readonly peerSettings: PeerSettings;
  /** Scratch lists of one settleResults call. */
  private readonly freedScratch: number[] = [];
  private readonly gainedScratch: number[] = [];

  /**
   * `uploadBytesPerSec`: this supernode's upload rate as its operator or scenario states it
   * (0 = unknown); bounds how many ways it splits its link between uploads (supernodeSlotsFor).
   */
  constructor(private readonly cfg: CoreConfig, private readonly rng: Rng, private readonly uploadBytesPerSec = 0) {
    this.peerSettings = peerSettingsOf(cfg);
  }

  stats(): SupernodeStats {
    let peersGloballyBlacklisted = 0;
    let peersSelfIsolated = 0;
    for (const task of this.tasks.values()) {
      peersGloballyBlacklisted += task.swarm?.blacklists.globallyBlacklisted.size ?? 0;
      peersSelfIsolated += task.swarm?.blacklists.isolated.size ?? 0;
    }
    return {
      peersGloballyBlacklisted,
      peersSelfIsolated,
      tasks: this.tasks.size,
      peers: this.peerTasks.size,
      piecesAssignedFromSupernode: this.fromSupernode,
      piecesAssignedFromPeers: this.fromPeers,
    };
  }

  /** Read-only view of a task's swarm, for tests, metrics and invariant checkers. */
  swarmOf(taskId: TaskId): TaskSwarm | null { return this.tasks.get(taskId)?.swarm ?? null; }
  peerIndex(taskId: TaskId, peerId: PeerId): number {
    return this.tasks.get(taskId)?.peers.get(peerId)?.index ?? -1;
  }

  poll(): SupernodeEffect | undefined { return this.out.poll(); }

  /**
   * Whether the CDN must keep this task's files: it is fetching or revalidating, or a registered
   * peer is still downloading it. Complete seeders alone do not hold a task in the cache.
   */
  cacheNeeded(taskId: TaskId): boolean {
    const task = this.tasks.get(taskId);
    if (!task) return false;
    if (task.phase !== 'ready') return true;
    for (const slot of task.peers.values()) {
      if (!task.swarm || slot.index < 0 || !task.swarm.isComplete(slot.index)) return true;
    }
    return false;
  }

  /** Expiry sweeps run every pieceTimeoutMs while any piece runs (cheap: no per-input scan). */
  nextDeadlineMs(): number | null { return this.sweepAtMs; }

  handle(nowMs: number, input: SupernodeInput): void {
    this.clock.advance(nowMs);
    switch (input.kind) {
      case 'peer-message': return this.onPeerMessage(nowMs, input.from, input.msg);
      case 'peer-gone': return this.onPeerGone(nowMs, input.peerId);
      case 'cdn-length': {
        const task = this.tasks.get(input.taskId);
        if (task && input.totalBytes !== null) this.setPlan(nowMs, task, input.totalBytes);
        return;
      }
      case 'cdn-piece': return this.onCdnPiece(nowMs, input.taskId, input.piece, input.digest);
      case 'cdn-done': {
        const task = this.tasks.get(input.taskId);
        if (!task) return;
        const newDigest = task.fileDigest !== input.fileDigest;
        task.fileDigest = input.fileDigest;
        if (newDigest) this.tellFileDigest(task);
        if (!task.plan) this.setPlan(nowMs, task, input.totalBytes);
        if (task.phase === 'fetching') task.phase = 'ready';
        task.validatedAtMs = nowMs;
        task.cdnBytes = input.totalBytes;
        this.report(task);
        return;
      }
      case 'cdn-failed': return this.failTask(input.taskId, input.reason, input.status);
      case 'cdn-evicted': return this.failTask(input.taskId, 'the supernode evicted this task from its cache to stay under its size limit; download it again', undefined, 'gone');
      case 'preheat': return this.onPreheat(nowMs, input.taskId, input.task);
      case 'cdn-piece-lost': return this.onCdnPieceLost(input.taskId, input.piece);
      case 'cdn-piece-intact': return this.onCdnPieceIntact(nowMs, input.taskId, input.piece);
      case 'probe-result': return this.onProbeResult(nowMs, input);
      case 'cdn-validated': return this.onValidated(nowMs, input.taskId, input.changed);
      case 'auth-result': return this.onAuthResult(nowMs, input.taskId, input.peerId, input.allowed, input.reason, input.status);
      case 'timeout': return this.expire(nowMs);
    }
  }

  private onPeerMessage(nowMs: number, from: PeerId, msg: PeerToSupernode): void {
    if (msg.kind === 'register') return this.onRegister(nowMs, from, msg);
    const task = this.tasks.get(msg.taskId);
    const slot = task?.peers.get(from);
    if (!task || !slot) {
      if (msg.kind === 'pull') {
        this.send(from, { kind: 'task-failed', taskId: msg.taskId, reason: 'not registered for this task on this supernode; register first' });
      }
      return;
    }
    task.lastUsedMs = nowMs;
    if (msg.kind === 'leave') return this.removeFromTask(nowMs, task, slot);
    this.settleResults(nowMs, task, slot, msg.results);
    if (msg.kind === 'pull') this.answerPull(nowMs, task, slot);
  }

  private onRegister(nowMs: number, from: PeerId, msg: RegisterMsg): void {
    let task = this.tasks.get(msg.taskId);
    const creating = !task;
    if (!task) {
      if (this.tasks.size >= this.cfg.maxTasks && !this.evictIdleTask()) {
        this.send(from, { kind: 'task-failed', taskId: msg.taskId, reason: `supernode is at its limit of ${this.cfg.maxTasks} tasks; try later` });
        return;
      }
      task = this.newTask(nowMs, msg.taskId, msg.task);
      this.out.push({ kind: 'cdn-fetch', taskId: task.taskId, task: task.spec, pieceSizeBytes: this.cfg.pieceSizeBytes });
    }
    task.lastUsedMs = nowMs;
    // A peer registering again for the same task starts a new download: forget the old one.
    const existing = task.peers.get(from);
    if (existing) this.removeFromTask(nowMs, task, existing);
    if (task.peers.size >= this.cfg.maxPeersPerTask) {
      this.send(from, { kind: 'task-failed', taskId: task.taskId, reason: `task is at its limit of ${this.cfg.maxPeersPerTask} peers` });
      return;
    }
    const slot: PeerSlot = {
      id: from, index: -1, uploadAddr: msg.uploadAddr, uploadRateBytesPerSec: msg.uploadRateBytesPerSec ?? 0, cdnOnly: msg.pattern === 'cdn',
      placement: { ...(msg.idc ? { idc: msg.idc } : {}), ...(msg.location ? { location: msg.location } : {}) },
      pendingHave: msg.have, pendingHavePlan: msg.havePlan ?? null, pendingBlacklist: msg.blacklist.slice(0, this.cfg.maxLocalBlacklist),
      authorized: creating || !task.needsAuth || this.recentlyAllowed(nowMs, task, credentialKey(msg.task)),
      credentials: credentialKey(msg.task), informed: false, waitStreak: 0, waiting: false, prevWaiter: null, nextWaiter: null, left: false,
      grantExpiresAtMs: 0, grantRefused: false, lateDigest: msg.lateDigest === true,
    };
    if (creating && hasCredentials(msg.task)) {
      task.needsAuth = true;
      // The creator's credentials fetch the source: if the source refuses them, the task fails for everyone.
      this.rememberAllowed(nowMs, task, slot.credentials);
    }
    task.peers.set(from, slot);
    let taskIds = this.peerTasks.get(from);
    if (!taskIds) this.peerTasks.set(from, taskIds = new Set());
    taskIds.add(task.taskId);
    if (task.swarm) this.joinSwarm(task, slot);
    if (!slot.authorized) this.out.push({ kind: 'check-auth', taskId: task.taskId, peerId: from, task: msg.task });
    if (task.phase === 'ready' && nowMs - task.validatedAtMs >= this.cfg.revalidateAfterMs) {
      task.phase = 'revalidating';
      this.out.push({ kind: 'cdn-revalidate', taskId: task.taskId, task: task.spec });
    }
    if (task.plan && task.phase !== 'revalidating' && slot.authorized) this.sendTaskInfo(nowMs, task, slot);
    else this.send(from, { kind: 'wait', taskId: task.taskId, retryAfterMs: this.cfg.waitMinMs, reason: this.waitReason(task, slot) });
  }

  private newTask(nowMs: number, taskId: TaskId, spec: TaskSpec): Task {
    const task: Task = {
      taskId, spec, phase: 'fetching', plan: null, swarm: null, digests: [], peers: new Map(), byIndex: [], indexOf: new Map(),
      waiters: new WaiterList<PeerSlot>(), needsAuth: false, allowedCredentials: new Map(), validatedAtMs: nowMs, lastUsedMs: nowMs,
      cdnSuspect: new Set(), cdnIntactAtMs: new Map(), cdnLosses: new Map(), probes: new Map(), watched: false, cdnBytes: 0,
    };
    this.tasks.set(taskId, task);
    return task;
  }

  private setPlan(nowMs: number, task: Task, totalBytes: number): void {
    if (task.plan) return;
    task.plan = planPieces(totalBytes, this.cfg.pieceSizeBytes);
    task.swarm = new TaskSwarm(task.plan.pieceCount, this.cfg, this.uploadBytesPerSec);
    task.digests = new Array<string>(task.plan.pieceCount).fill('');
    this.report(task);
    for (const slot of task.peers.values()) {
      if (slot.left) continue;
      this.joinSwarm(task, slot);
      if (slot.authorized && task.phase !== 'revalidating') this.sendTaskInfo(nowMs, task, slot);
    }
  }

  private joinSwarm(task: Task, slot: PeerSlot): void {
    const swarm = task.swarm!;
    slot.index = swarm.addPeer(slot.cdnOnly, randomInt(this.rng, Math.max(1, swarm.pieceCount)), slot.uploadRateBytesPerSec, slot.placement);
    task.byIndex[slot.index] = slot;
    task.indexOf.set(slot.id, slot.index);
    const claimed = slot.pendingHavePlan;
    const samePlan = claimed === null
      || (claimed.totalBytes === task.plan!.totalBytes && claimed.pieceSizeBytes === task.plan!.pieceSizeBytes);
    if (samePlan) forEachPiece(slot.pendingHave, swarm.pieceCount, (piece) => swarm.addHolding(slot.index, piece));
    for (const id of slot.pendingBlacklist) {
      const other = task.peers.get(id);
      if (other && other.index >= 0) swarm.blacklists.addLocal(slot.index, other.index);
    }
    slot.pendingHave = [];
    slot.pendingHavePlan = null;
    slot.pendingBlacklist = [];
  }

  /**
   * The CDN has the whole file: peers told the plan before that learn its digest now, so none of
   * them hashes the file again (each verified every piece against digests of this same CDN pass).
   */
  private tellFileDigest(task: Task): void {
    const fileDigest = task.fileDigest!;
    for (const slot of task.peers.values()) {
      if (slot.informed && !slot.left && slot.lateDigest) this.send(slot.id, { kind: 'file-digest', taskId: task.taskId, fileDigest });
    }
  }

  /** Admit the peer: the plan, the fleet's settings and its grant (signed by the driver on the way out). */
  private sendTaskInfo(nowMs: number, task: Task, slot: PeerSlot): void {
    const plan = task.plan!;
    slot.informed = true;
    this.send(slot.id, {
      kind: 'task-info', taskId: task.taskId, totalBytes: plan.totalBytes, pieceSizeBytes: plan.pieceSizeBytes,
      pieceCount: plan.pieceCount, ...(task.fileDigest ? { fileDigest: task.fileDigest } : {}), settings: this.peerSettings,
      grant: this.issueGrant(nowMs, task, slot),
    });
  }

  private issueGrant(nowMs: number, task: Task, slot: PeerSlot): Grant {
    slot.grantExpiresAtMs = nowMs + this.cfg.grantTtlMs;
    slot.grantRefused = false;
    return { taskId: task.taskId, peer: slot.id, expiresAtMs: slot.grantExpiresAtMs, signature: '' };
  }

  /** An assign, with a fresh grant when the peer's is past half its life or an uploader refused it. */
  private sendAssign(nowMs: number, task: Task, slot: PeerSlot, pieces: Assignment[], retryAfterMs: number): void {
    const renew = slot.grantRefused || nowMs >= slot.grantExpiresAtMs - this.cfg.grantTtlMs / 2;
    const msg: Extract<SupernodeToPeer, { kind: 'assign' }> = { kind: 'assign', taskId: task.taskId, pieces, retryAfterMs };
    if (renew) msg.grant = this.issueGrant(nowMs, task, slot);
    this.send(slot.id, msg);
  }

  private onCdnPiece(nowMs: number, taskId: TaskId, piece: number, digest: string): void {
    const task = this.tasks.get(taskId);
    if (!task?.swarm || piece < 0 || piece >= task.swarm.pieceCount) return;
    task.digests[piece] = digest;
    task.swarm.markDigestKnown(piece);
    if (task.swarm.markCdnReady(piece)) {
      task.cdnBytes += pieceBytes(task.plan!, piece);
      this.report(task);
      this.wake(nowMs, task, SUPERNODE_INDEX, piece);
    }
  }

  private settleResults(nowMs: number, task: Task, slot: PeerSlot, results: PieceResult[]): void {
    const swarm = task.swarm;
    if (!swarm || slot.index < 0) return;
    const freedSources = this.freedScratch;
    const gainedPieces = this.gainedScratch;
    freedSources.length = 0;
    gainedPieces.length = 0;
    const wasIsolated = swarm.blacklists.isIsolated(slot.index);
    for (const result of results) {
      const source = result.source === SUPERNODE ? SUPERNODE_INDEX : (task.indexOf.get(result.source) ?? -2);
      if (source === -2) continue;
      // What a failure says about the source (blameFor); a refused grant is renewed.
      if (result.failure === 'unauthorized') slot.grantRefused = true;
      if (swarm.settle(slot.index, result.piece, source, result.ok, result.ok ? 'none' : blameFor(result.failure))) {
        freedSources.push(source);
        if (result.ok) gainedPieces.push(result.piece);
        if (source === SUPERNODE_INDEX && result.failure === 'corrupt') this.suspectCdnPiece(nowMs, task, result.piece);
      }
    }
    if (!wasIsolated && swarm.blacklists.isIsolated(slot.index)) {
      this.log('warn', `task ${task.taskId.slice(0, 12)}: peer ${slot.id} failed from more than ${this.cfg.selfIsolationThreshold} sources in a row; it is isolated (supernode only) and on the global blacklist`);
    }
    this.startProbes(nowMs, task);
    // Capacity appeared: an upload slot at each source, and the requester now serves what it gained.
    // (Waking never settles results, so the scratch lists are not reused under this loop.)
    for (let i = 0; i < freedSources.length; i++) this.wake(nowMs, task, freedSources[i], -1);
    for (let i = 0; i < gainedPieces.length; i++) this.wake(nowMs, task, slot.index, gainedPieces[i]);
  }

  /**
   * Peers report the cache's copy of `piece` corrupt: stop assigning it and have the CDN read it
   * whole (`cdn-verify-piece`). A copy found intact is not re-read for a piece timeout, so reports
   * cannot make the supernode hash one piece without end.
   */
  private suspectCdnPiece(nowMs: number, task: Task, piece: number): void {
    const swarm = task.swarm!;
    if (!swarm.isCdnReady(piece) || task.cdnSuspect.has(piece)) return;
    const intactAtMs = task.cdnIntactAtMs.get(piece);
    if (intactAtMs !== undefined && nowMs - intactAtMs < this.cfg.pieceTimeoutMs) return;
    task.cdnSuspect.add(piece);
    this.dropCdnPiece(task, piece);
    this.out.push({ kind: 'cdn-verify-piece', taskId: task.taskId, piece });
  }

  /** The cache's copy is missing or corrupt: refetch it, unless the disk keeps losing it. */
  private onCdnPieceLost(taskId: TaskId, piece: number): void {
    const task = this.tasks.get(taskId);
    const swarm = task?.swarm;
    if (!task || !swarm) return;
    const suspect = task.cdnSuspect.delete(piece);
    if (!suspect && !swarm.isCdnReady(piece)) return;
    this.dropCdnPiece(task, piece);
    const losses = (task.cdnLosses.get(piece) ?? 0) + 1;
    task.cdnLosses.set(piece, losses);
    if (losses > MAX_CDN_PIECE_LOSSES) {
      return this.failTask(taskId, `the supernode's cache lost piece ${piece} ${losses} times (missing or corrupt on its disk); check the supernode's disk, then run the download again`);
    }
    this.out.push({ kind: 'cdn-refetch-piece', taskId, piece });
  }

  private onCdnPieceIntact(nowMs: number, taskId: TaskId, piece: number): void {
    const task = this.tasks.get(taskId);
    if (!task?.swarm || !task.cdnSuspect.delete(piece)) return;
    task.cdnIntactAtMs.set(piece, nowMs);
    if (!task.swarm.markCdnReady(piece)) return;
    task.cdnBytes += pieceBytes(task.plan!, piece);
    this.wake(nowMs, task, SUPERNODE_INDEX, piece);
  }

  /** The cache's copy of `piece` is not to be assigned (suspect, lost): it no longer counts as held. */
  private dropCdnPiece(task: Task, piece: number): void {
    if (task.swarm!.dropCdnPiece(piece)) task.cdnBytes -= pieceBytes(task.plan!, piece);
  }

  /** Probe every source the blacklists just suspended (a held piece, chosen at random), within a bound. */
  private startProbes(nowMs: number, task: Task): void {
    const swarm = task.swarm;
    if (!swarm) return;
    for (const index of swarm.blacklists.takeProbes()) {
      const slot = task.byIndex[index];
      const piece = slot && !slot.left ? this.probePiece(swarm, index) : -1;
      if (piece < 0 || task.probes.size >= MAX_PROBES_PER_TASK) {
        swarm.blacklists.probeInconclusive(index);
        continue;
      }
      task.probes.set(index, { piece, startedMs: nowMs });
      if (this.sweepAtMs === null) this.sweepAtMs = nowMs + this.cfg.pieceTimeoutMs;
      const { startByte, endByte } = pieceRange(task.plan!, piece);
      this.out.push({
        kind: 'probe-peer', taskId: task.taskId, peerId: slot.id, sourceAddr: slot.uploadAddr, piece, sizeBytes: endByte - startByte,
        digest: task.digests[piece],
      });
    }
  }

  private probePiece(swarm: TaskSwarm, index: number): number {
    const start = randomInt(this.rng, Math.max(1, swarm.pieceCount));
    for (let i = 0; i < swarm.pieceCount; i++) {
      const piece = (start + i) % swarm.pieceCount;
      if (swarm.hasPiece(index, piece) && swarm.isDigestKnown(piece)) return piece;
    }
    return -1;
  }

  private onProbeResult(nowMs: number, input: Extract<SupernodeInput, { kind: 'probe-result' }>): void {
    const task = this.tasks.get(input.taskId);
    const index = task?.indexOf.get(input.peerId);
    const probe = index === undefined ? undefined : task?.probes.get(index);
    if (!task?.swarm || index === undefined || !probe) return;
    task.probes.delete(index);
    if (task.swarm.isGone(index)) return;
    const lists = task.swarm.blacklists;
    const accusers = lists.accusersOf(index);
    const what = `task ${task.taskId.slice(0, 12)}: peer ${input.peerId}`;
    if (input.outcome === 'failed') {
      lists.probeFailed(index);
      this.log('warn', `${what} is on the global blacklist: ${accusers} peers reported failures from it and the supernode's own fetch of piece ${probe.piece} failed too (${input.detail ?? 'no detail'})`);
      return;
    }
    if (input.outcome === 'served') {
      lists.probeServed(index);
      this.log('info', `${what} served piece ${probe.piece} to the supernode's check: its ${accusers} accusers are discredited for this task`);
    } else lists.probeInconclusive(index);
    // The peer may be sent to again: its upload slots are capacity for the waiters.
    this.wake(nowMs, task, index, -1);
  }

  private answerPull(nowMs: number, task: Task, slot: PeerSlot): void {
    const swarm = task.swarm;
    if (!swarm || !slot.informed || slot.index < 0) {
      this.sendWait(task, slot, this.waitReason(task, slot));
      return;
    }
    if (swarm.isComplete(slot.index)) {
      this.sendAssign(nowMs, task, slot, [], 0);
      return;
    }
    const limit = Math.min(this.cfg.piecesPerPull, this.cfg.peerDownLimit);
    if (swarm.runningOf(slot.index).length >= limit) {
      this.sendAssign(nowMs, task, slot, [], 0);
      return;
    }
    const assigned = this.assign(nowMs, task, slot);
    if (assigned.length > 0) {
      slot.waitStreak = 0;
      const short = this.isShort(swarm, slot.index);
      if (short) this.enqueueWaiter(task, slot);
      this.sendAssign(nowMs, task, slot, assigned, short ? this.retryHintMs(slot) : 0);
      return;
    }
    if (swarm.runningOf(slot.index).length > 0 && swarm.missingCount(slot.index) <= swarm.runningOf(slot.index).length) {
      // Everything missing is already running: the next result brings the next pull.
      this.sendAssign(nowMs, task, slot, [], 0);
      return;
    }
    this.enqueueWaiter(task, slot);
    this.sendWait(task, slot, 'no piece has a free source right now');
  }

  /** Schedule for `slot`; `freedSource` is the source whose capacity woke it (see TaskSwarm.schedule). */
  private assign(nowMs: number, task: Task, slot: PeerSlot, freedSource = SUPERNODE_INDEX): Assignment[] {
    const swarm = task.swarm!;
    const out: Assignment[] = [];
    for (const { piece, source } of swarm.schedule(slot.index, nowMs, this.rng, freedSource)) {
      const fromSupernode = source === SUPERNODE_INDEX;
      const sourceSlot = fromSupernode ? null : task.byIndex[source];
      if (fromSupernode) this.fromSupernode++; else this.fromPeers++;
      const sourceId = sourceSlot ? sourceSlot.id : SUPERNODE;
      out.push({ piece, source: sourceId, sourceAddr: sourceSlot ? sourceSlot.uploadAddr : '', digest: task.digests[piece] || '' });
      if (this.sweepAtMs === null) this.sweepAtMs = nowMs + this.cfg.pieceTimeoutMs;
      this.out.push({ kind: 'assigned', taskId: task.taskId, to: slot.id, piece, source: sourceId });
    }
    return out;
  }

  /** The peer could run more pieces than it has running, and has pieces left to start. */
  private isShort(swarm: TaskSwarm, peer: number): boolean {
    const running = swarm.runningCount(peer);
    return running < Math.min(this.cfg.piecesPerPull, this.cfg.peerDownLimit) && swarm.missingCount(peer) > running;
  }

  private sendWait(task: Task, slot: PeerSlot, reason: string): void {
    const retryAfterMs = this.retryHintMs(slot);
    slot.waitStreak = Math.min(slot.waitStreak + 1, 30);
    this.send(slot.id, { kind: 'wait', taskId: task.taskId, retryAfterMs, reason });
  }

  /**
   * When to pull again unasked. A queued waiter is woken by the capacity it can use (wake), so
   * its hint is only a safety net: waitMaxMs. Anyone else backs off from waitMinMs, doubling per
   * consecutive empty answer. (Pulls that only hear "wait" again were half of all events at
   * 2,000 hosts of seed-2016.)
   */
  private retryHintMs(slot: PeerSlot): number {
    if (slot.waiting) return this.cfg.waitMaxMs;
    return Math.min(this.cfg.waitMinMs * 2 ** slot.waitStreak, this.cfg.waitMaxMs);
  }

  private waitReason(task: Task, slot: PeerSlot): string {
    if (!slot.authorized) return 'checking your credentials with the source';
    if (task.phase === 'revalidating') return 'revalidating the cached copy with the source';
    if (!task.plan) return 'supernode is fetching the source length';
    return 'no piece has a free source right now';
  }

  private enqueueWaiter(task: Task, slot: PeerSlot): void {
    if (slot.waiting || task.waiters.length >= this.cfg.maxPeersPerTask) return;
    task.waiters.push(slot);
  }

  /**
   * Capacity appeared at `source` (a peer, or SUPERNODE_INDEX for the CDN): for `piece`, or
   * (-1) for whatever it holds. Walk the waiters oldest first and reschedule those it could
   * serve — at most `wakeBatch` of them, looking at no more than WAKE_SCAN_FACTOR x wakeBatch —
   * until its free upload slots are taken. Waiters it could not serve keep their place; one
   * rescheduled without success goes to the back. Those given work get an unasked `assign`.
   */
  private wake(nowMs: number, task: Task, source: number, piece: number): void {
    const swarm = task.swarm;
    if (!swarm) return;
    let scheduled = 0;
    let looked = 0;
    const lookLimit = WAKE_SCAN_FACTOR * this.cfg.wakeBatch;
    let slot = task.waiters.first();
    while (slot && scheduled < this.cfg.wakeBatch && looked < lookLimit && swarm.freeUploadSlots(source, piece) > 0) {
      const next = task.waiters.next(slot);
      looked++;
      if (slot.left || slot.index < 0 || !slot.informed || !this.isShort(swarm, slot.index)) {
        // Gone, complete, or no longer short of work (its own pulls filled it): not waiting.
        task.waiters.remove(slot);
      } else if (swarm.offersTo(source, slot.index, piece)) {
        task.waiters.remove(slot);
        scheduled++;
        const assigned = this.assign(nowMs, task, slot, source);
        if (assigned.length === 0) this.enqueueWaiter(task, slot);
        else {
          slot.waitStreak = 0;
          const short = this.isShort(swarm, slot.index);
          if (short) this.enqueueWaiter(task, slot);
          this.sendAssign(nowMs, task, slot, assigned, short ? this.retryHintMs(slot) : 0);
        }
      }
      slot = next;
    }
  }

  private onPeerGone(nowMs: number, peerId: PeerId): void {
    const taskIds = this.peerTasks.get(peerId);
    if (!taskIds) return;
    for (const taskId of taskIds) {
      const task = this.tasks.get(taskId);
      const slot = task?.peers.get(peerId);
      if (task && slot) this.removeFromTask(nowMs, task, slot);
    }
    this.peerTasks.delete(peerId);
  }

  private removeFromTask(nowMs: number, task: Task, slot: PeerSlot): void {
    if (slot.left) return;
    slot.left = true;
    task.peers.delete(slot.id);
    this.peerTasks.get(slot.id)?.delete(task.taskId);
    task.waiters.remove(slot);
    if (task.swarm && slot.index >= 0) {
      const freedSources = task.swarm.runningOf(slot.index).map((run) => run.source);
      task.swarm.removePeer(slot.index);
      for (const source of freedSources) this.wake(nowMs, task, source, -1);
    }
  }

  private onValidated(nowMs: number, taskId: TaskId, changed: boolean): void {
    const task = this.tasks.get(taskId);
    if (!task || task.phase !== 'revalidating') return;
    if (!changed) {
      task.phase = 'ready';
      task.validatedAtMs = nowMs;
      this.report(task);
      for (const slot of task.peers.values()) if (slot.authorized && !slot.informed) this.sendTaskInfo(nowMs, task, slot);
      return;
    }
    // The source changed: every copy in the swarm is stale. Start the task over for the peers
    // that had not started; peers mid-download of the old content are told to run again.
    const waiting = [...task.peers.values()].filter((slot) => !slot.informed);
    const stale = [...task.peers.values()].filter((slot) => slot.informed);
    for (const slot of stale) {
      // Complete peers are told too: a seeder holding the old content must stop offering it.
      const complete = task.swarm !== null && slot.index >= 0 && task.swarm.isComplete(slot.index);
      this.send(slot.id, {
        kind: 'task-failed', taskId,
        reason: complete ? 'the source changed; the copy you hold is stale' : 'the source changed during the download; run it again for the new content',
      });
      this.peerTasks.get(slot.id)?.delete(taskId);
    }
    this.out.push({ kind: 'cdn-drop', taskId });
    const fresh = this.newTask(nowMs, taskId, task.spec);
    fresh.needsAuth = task.needsAuth;
    fresh.watched = task.watched;
    this.report(fresh);
    for (const slot of waiting) {
      const renewed: PeerSlot = {
        ...slot, index: -1, informed: false, pendingHave: [], pendingHavePlan: null, pendingBlacklist: [], waiting: false, prevWaiter: null, nextWaiter: null, waitStreak: 0,
      };
      fresh.peers.set(slot.id, renewed);
    }
    this.out.push({ kind: 'cdn-fetch', taskId, task: fresh.spec, pieceSizeBytes: this.cfg.pieceSizeBytes });
  }

  private onAuthResult(nowMs: number, taskId: TaskId, peerId: PeerId, allowed: boolean, reason?: string, status?: number): void {
    const task = this.tasks.get(taskId);
    const slot = task?.peers.get(peerId);
    if (!task || !slot || slot.authorized) return;
    if (!allowed) {
      this.send(peerId, { kind: 'task-failed', taskId, status: status ?? 401, reason: reason ?? 'the source refused your credentials' });
      this.removeFromTask(nowMs, task, slot);
      return;
    }
    slot.authorized = true;
    this.rememberAllowed(nowMs, task, slot.credentials);
    if (task.plan && task.phase !== 'revalidating') this.sendTaskInfo(nowMs, task, slot);
  }

  /** The source accepted `credentials` for this task within the last revalidateAfterMs. */
  private recentlyAllowed(nowMs: number, task: Task, credentials: string): boolean {
    const atMs = task.allowedCredentials.get(credentials);
    return atMs !== undefined && nowMs - atMs < this.cfg.revalidateAfterMs;
  }

  private rememberAllowed(nowMs: number, task: Task, credentials: string): void {
    if (this.cfg.revalidateAfterMs === 0) return;
    task.allowedCredentials.delete(credentials);
    if (task.allowedCredentials.size >= MAX_REMEMBERED_CREDENTIALS) task.allowedCredentials.delete(task.allowedCredentials.keys().next().value as string);
    task.allowedCredentials.set(credentials, nowMs);
  }

  /** Tell every peer, forget the task, and drop its cache — unless the cache is already `gone`. */
  private failTask(taskId: TaskId, reason: string, status?: number, cache: 'drop' | 'gone' = 'drop'): void {
    const task = this.tasks.get(taskId);
    if (!task) return;
    for (const slot of task.peers.values()) {
      this.send(slot.id, { kind: 'task-failed', taskId, reason, ...(status !== undefined ? { status } : {}) });
      this.peerTasks.get(slot.id)?.delete(taskId);
    }
    this.tasks.delete(taskId);
    this.report(task, reason);
    if (cache === 'drop') this.out.push({ kind: 'cdn-drop', taskId });
  }

  /**
   * Fetch a task before anyone asks: a new task is fetched, a cached one revalidated when due.
   * The answer is the task's state now; a task still fetching reports each change after it.
   */
  private onPreheat(nowMs: number, taskId: TaskId, spec: TaskSpec): void {
    let task = this.tasks.get(taskId);
    if (!task) {
      if (this.tasks.size >= this.cfg.maxTasks && !this.evictIdleTask()) {
        const reason = `supernode is at its limit of ${this.cfg.maxTasks} tasks; try later`;
        this.out.push({ kind: 'preheat-update', taskId, state: 'failed', bytesDone: 0, totalBytes: null, reason });
        return;
      }
      task = this.newTask(nowMs, taskId, spec);
      task.needsAuth = hasCredentials(spec);
      // The preheat's credentials fetch the source: peers bringing the same ones need no check.
      if (task.needsAuth) this.rememberAllowed(nowMs, task, credentialKey(spec));
      this.out.push({ kind: 'cdn-fetch', taskId, task: spec, pieceSizeBytes: this.cfg.pieceSizeBytes });
    } else if (task.phase === 'ready' && nowMs - task.validatedAtMs >= this.cfg.revalidateAfterMs) {
      task.phase = 'revalidating';
      this.out.push({ kind: 'cdn-revalidate', taskId, task: task.spec });
    }
    task.lastUsedMs = nowMs;
    task.watched = task.phase !== 'ready';
    this.report(task, undefined, true);
  }

  /** A preheat-update for a watched task (or `always`); ready or failed ends the watch. */
  private report(task: Task, failure?: string, always = false): void {
    if (!task.watched && !always) return;
    const state = failure !== undefined ? 'failed' : task.phase === 'ready' ? 'ready' : 'fetching';
    this.out.push({
      kind: 'preheat-update', taskId: task.taskId, state, bytesDone: task.cdnBytes, totalBytes: task.plan?.totalBytes ?? null,
      ...(failure !== undefined ? { reason: failure } : {}),
    });
    if (state !== 'fetching') task.watched = false;
  }

  private expire(nowMs: number): void {
    if (this.sweepAtMs === null || nowMs < this.sweepAtMs) return;
    const cutoffMs = nowMs - 2 * this.cfg.pieceTimeoutMs;
    let anyRunning = false;
    for (const task of this.tasks.values()) {
      if (!task.swarm) continue;
      for (const [peer, run] of task.swarm.expired(cutoffMs)) {
        task.swarm.settle(peer, run.piece, run.source, false, 'none');
      }
      // A probe the driver never answered proves nothing: the peer is resumed.
      for (const [index, probe] of task.probes) {
        if (probe.startedMs > cutoffMs) continue;
        task.probes.delete(index);
        task.swarm.blacklists.probeInconclusive(index);
      }
      anyRunning ||= task.swarm.anyRunning() || task.probes.size > 0;
    }
    this.sweepAtMs = anyRunning ? nowMs + this.cfg.pieceTimeoutMs : null;
  }

  private evictIdleTask(): boolean {
    let victim: Task | null = null;
    for (const task of this.tasks.values()) {
      if (task.peers.size === 0 && !task.watched && (!victim || task.lastUsedMs < victim.lastUsedMs)) victim = task;
    }
    if (!victim) return false;
    this.tasks.delete(victim.taskId);
    this.out.push({ kind: 'cdn-drop', taskId: victim.taskId });
    return true;
  }

  private log(level: 'info' | 'warn', message: string): void {
    this.out.push({ kind: 'log', level, message });
  }

  private send(to: PeerId, msg: SupernodeToPeer): void {
    this.out.push({ kind: 'send', to, msg });
  }
}

/** A piece the cache lost more often than this in one task's life means a failing disk: the task fails. */
const MAX_CDN_PIECE_LOSSES = 3;
/** Probes of accused peers in flight per task; more accused peers wait for the next accusation. */
const MAX_PROBES_PER_TASK = 64;

/** Successful credential checks remembered per task (oldest forgotten first). */
const MAX_REMEMBERED_CREDENTIALS = 256;

function isCredentialHeader(name: string): boolean {
  const lower = name.toLowerCase();
  return lower === 'authorization' || lower === 'cookie';
}

function hasCredentials(spec: TaskSpec): boolean {
  return Object.keys(spec.headers).some(isCredentialHeader);
}

/** The credential headers of a request, as one comparable string. */
function credentialKey(spec: TaskSpec): string {
  return Object.entries(spec.headers).filter(([name]) => isCredentialHeader(name))
    .map(([name, value]) => `${name.toLowerCase()}:${value}`).sort().join('\n');
}
