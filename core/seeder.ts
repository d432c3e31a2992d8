/**
 * Seeder: a host's uploader keeps offering its finished downloads after the dfget that fetched
 * them has exited. dfget's own control connection (and with it the supernode's record of that
 * peer) ends with the process, so the uploader, which keeps serving the file, registers each
 * complete task itself, under its own peer id, with every piece.
 *
 * Theory of operation. A seeded task is registered with one supernode of its list at a time, over
 * one control link per supernode address (shared by every task registered there). A link is
 * `down`, `connecting` or `open`; it is opened (`connect`) while it has tasks and closed
 * (`disconnect`) once it has none. When a link is lost, each of its tasks moves to the next
 * supernode of its own list, wrapping around to the first: unlike a download, which migrates down
 * its list once and then goes back to the source, a seeder has no other way to be useful, so it
 * keeps trying for as long as the uploader lists the task. A lost link is reconnected only after
 * a back-off of `seederRetryMinMs`, doubling per consecutive loss up to `seederRetryMaxMs`, and
 * reset once that supernode answers anything. The back-off is per address, so a task that bounces
 * back to a failing supernode waits for it.
 *
 * The supernode's answers are mostly ignored (a seeder holds every piece and never pulls), except:
 * `task-failed` drops the registration; a `task-info` whose layout or whole-file digest differs
 * from the file held withdraws it (`leave`), so no peer is sent here for bytes that do not match;
 * a `task-info` carrying the fleet's settings is adopted (its back-off) and handed to the driver
 * (`settings`), which reconfigures this host's uploader with them, as a download's peer does.
 *
 *   input                         effects
 *   configure                     -   (settings from this host's downloads)
 *   seed                          [leave at the old link]; connect | send register (link open)
 *   unseed                        send leave (link open); disconnect (link now unused)
 *   connected                     send register ... (each task of the link) | disconnect (none)
 *   connection-lost               log; per task: connect | send register at its next supernode
 *   supernode-message task-info   settings (when new); log + send leave (differs from the file)
 *   supernode-message task-failed log; disconnect (link now unused)
 *   timeout                       connect (links whose back-off is over)
 *
 * It knows nothing of sockets: the driver opens and closes links, frames messages and feeds
 * back what happened. The driver decodes every frame before it gets here.
 */
import { Clock, Outbox } from './drive.ts';
import type { PeerToSupernode, SupernodeToPeer, TaskId, TaskSpec } from './protocol.ts';
import { DEFAULT_PEER_SETTINGS, type PeerSettings } from './settings.ts';

/** A complete download the uploader holds, to register with its supernodes. */
export interface SeedTask {
  taskId: TaskId;
  task: TaskSpec;
  /** Supernodes to register with, in order. */
  supernodes: string[];
  totalBytes: number;
  pieceSizeBytes: number;
  pieceCount: number;
  /** `sha256:<hex>` of the file held, when known: a supernode announcing another digest is left. */
  fileDigest?: string;
  /** What this host can upload, bytes/s (`--totallimit`); absent = unknown. */
  uploadRateBytesPerSec?: number;
}

export type SeederInput =
  | { kind: 'configure'; settings: PeerSettings }
  | { kind: 'seed'; seed: SeedTask }
  | { kind: 'unseed'; taskId: TaskId }
  /** The link to this supernode opened. */
  | { kind: 'connected'; supernode: string }
  /** The link failed to open, failed or closed (never fed for a link the seeder disconnected). */
  | { kind: 'connection-lost'; supernode: string; reason: string }
  | { kind: 'supernode-message'; from: string; msg: SupernodeToPeer }
  | { kind: 'timeout' };

export type SeederEffect =
  | { kind: 'connect'; supernode: string }
  /** Close the link after the frames already sent on it. */
  | { kind: 'disconnect'; supernode: string }
  | { kind: 'send'; to: string; msg: PeerToSupernode }
  /** A supernode's settings for this host: reconfigure its uploader. */
  | { kind: 'settings'; settings: PeerSettings; supernode: string }
  | { kind: 'log'; level: 'info' | 'warn'; message: string };

interface Link {
  addr: string;
  state: 'down' | 'connecting' | 'open';
  taskIds: Set<TaskId>;
  /** Losses since the supernode last answered. */
  failures: number;
  /** No connect before this. */
  retryAtMs: number;
}

interface Seeded { spec: SeedTask; at: number }

/** Links remembered only for their back-off (no task) beyond this many are forgotten, oldest first. */
const MAX_IDLE_LINKS = 256;

export class Seeder {
  private readonly clock = new Clock();
  private readonly out = new Outbox<SeederEffect>();
  private readonly seeded = new Map<TaskId, Seeded>();
  private readonly links = new Map<string, Link>();
  private cfg: PeerSettings;

  constructor(private readonly uploadAddr: string, settings: PeerSettings = DEFAULT_PEER_SETTINGS,
    private readonly maxTasks = 10_000) {
    this.cfg = settings;
  }

  get seededTasks(): number { return this.seeded.size; }
  get settings(): PeerSettings { return this.cfg; }
  /** The supernode a task is registered with (or waiting for), or null when it is not seeded. */
  supernodeOf(taskId: TaskId): string | null {
    const entry = this.seeded.get(taskId);
    return entry ? entry.spec.supernodes[entry.at] : null;
  }

  poll(): SeederEffect | undefined { return this.out.poll(); }

  nextDeadlineMs(): number | null {
    let next: number | null = null;
    for (const link of this.links.values()) {
      if (link.state !== 'down' || link.taskIds.size === 0) continue;
      if (next === null || link.retryAtMs < next) next = link.retryAtMs;
    }
    return next;
  }

  handle(nowMs: number, input: SeederInput): void {
    this.clock.advance(nowMs);
    switch (input.kind) {
      case 'configure': this.cfg = input.settings; break;
      case 'seed': this.seed(nowMs, input.seed); break;
      case 'unseed': this.unseed(input.taskId); break;
      case 'connected': this.onConnected(input.supernode); break;
      case 'connection-lost': this.onLost(nowMs, input.supernode, input.reason); break;
      case 'supernode-message': this.onMessage(input.from, input.msg); break;
      case 'timeout':
        for (const link of this.links.values()) {
          if (link.state === 'down' && link.taskIds.size > 0 && link.retryAtMs <= nowMs) this.connect(link);
        }
        break;
    }
  }

  private seed(nowMs: number, spec: SeedTask): void {
    if (spec.supernodes.length === 0) return;
    this.unseed(spec.taskId);
    if (this.seeded.size >= this.maxTasks) {
      this.log('warn', `not seeding ${spec.taskId}: already seeding ${this.maxTasks} tasks`);
      return;
    }
    this.seeded.set(spec.taskId, { spec, at: 0 });
    this.attach(nowMs, spec.taskId, spec.supernodes[0]);
  }

  private unseed(taskId: TaskId): void {
    const entry = this.seeded.get(taskId);
    if (!entry) return;
    this.seeded.delete(taskId);
    const link = this.links.get(entry.spec.supernodes[entry.at]);
    if (!link) return;
    if (link.taskIds.delete(taskId) && link.state === 'open') this.send(link, { kind: 'leave', taskId });
    this.releaseIfUnused(link);
  }

  private attach(nowMs: number, taskId: TaskId, addr: string): void {
    const link = this.links.get(addr) ?? this.newLink(addr);
    link.taskIds.add(taskId);
    if (link.state === 'open') this.register(link, taskId);
    else if (link.state === 'down' && link.retryAtMs <= nowMs) this.connect(link);
  }

  private newLink(addr: string): Link {
    if (this.links.size >= MAX_IDLE_LINKS) {
      for (const [key, link] of this.links) {
        if (link.taskIds.size === 0 && link.state === 'down') { this.links.delete(key); break; }
      }
    }
    const link: Link = { addr, state: 'down', taskIds: new Set(), failures: 0, retryAtMs: 0 };
    this.links.set(addr, link);
    return link;
  }

  private connect(link: Link): void {
    link.state = 'connecting';
    this.out.push({ kind: 'connect', supernode: link.addr });
  }

  private onConnected(addr: string): void {
    const link = this.links.get(addr);
    if (!link || link.state !== 'connecting') return;
    link.state = 'open';
    if (link.taskIds.size === 0) return this.releaseIfUnused(link);
    for (const taskId of link.taskIds) this.register(link, taskId);
  }

  private onLost(nowMs: number, addr: string, reason: string): void {
    const link = this.links.get(addr);
    if (!link || link.state === 'down') return;
    link.state = 'down';
    link.failures++;
    const backoffMs = Math.min(this.cfg.seederRetryMinMs * 2 ** Math.min(link.failures - 1, 30), this.cfg.seederRetryMaxMs);
    link.retryAtMs = nowMs + backoffMs;
    this.log('warn', `seeding: supernode ${addr} lost (${reason}); its tasks move to their next supernode, it is retried in ${backoffMs} ms`);
    for (const taskId of [...link.taskIds]) {
      const entry = this.seeded.get(taskId);
      if (!entry) { link.taskIds.delete(taskId); continue; }
      entry.at = (entry.at + 1) % entry.spec.supernodes.length;
      const next = entry.spec.supernodes[entry.at];
      if (next === addr) continue;
      link.taskIds.delete(taskId);
      this.attach(nowMs, taskId, next);
    }
    this.releaseIfUnused(link);
  }

  private onMessage(addr: string, msg: SupernodeToPeer): void {
    const link = this.links.get(addr);
    if (!link || link.state !== 'open') return;
    link.failures = 0;
    const entry = this.seeded.get(msg.taskId);
    if (!entry || !link.taskIds.has(msg.taskId)) return;
    if (msg.kind === 'task-failed') {
      this.log('warn', `seeding: supernode ${addr} refused task ${msg.taskId}: ${msg.reason}`);
      this.seeded.delete(msg.taskId);
      link.taskIds.delete(msg.taskId);
      return this.releaseIfUnused(link);
    }
    if (msg.kind !== 'task-info') return;
    if (msg.settings && !sameSettings(msg.settings, this.cfg)) {
      this.cfg = msg.settings;
      this.out.push({ kind: 'settings', settings: msg.settings, supernode: addr });
    }
    const spec = entry.spec;
    if (msg.totalBytes !== spec.totalBytes || msg.pieceSizeBytes !== spec.pieceSizeBytes
      || (msg.fileDigest !== undefined && spec.fileDigest !== undefined && msg.fileDigest !== spec.fileDigest)) {
      this.log('warn', `seeding: supernode ${addr} describes task ${msg.taskId} differently from the file held; leaving`);
      this.unseed(msg.taskId);
    }
  }

  /** A link with no task is closed; it is remembered only while its back-off matters. */
  private releaseIfUnused(link: Link): void {
    if (link.taskIds.size > 0) return;
    if (link.state !== 'down') {
      this.out.push({ kind: 'disconnect', supernode: link.addr });
      link.state = 'down';
    }
    if (link.failures === 0) this.links.delete(link.addr);
  }

  private register(link: Link, taskId: TaskId): void {
    const spec = this.seeded.get(taskId)!.spec;
    this.send(link, {
      kind: 'register', taskId, task: spec.task, uploadAddr: this.uploadAddr,
      have: Array.from({ length: spec.pieceCount }, (_, piece) => piece), blacklist: [], pattern: 'p2p',
      ...(spec.uploadRateBytesPerSec !== undefined && spec.uploadRateBytesPerSec > 0 ? { uploadRateBytesPerSec: spec.uploadRateBytesPerSec } : {}),
    });
  }

  private send(link: Link, msg: PeerToSupernode): void {
    this.out.push({ kind: 'send', to: link.addr, msg });
  }

  private log(level: 'info' | 'warn', message: string): void {
    this.out.push({ kind: 'log', level, message });
  }
}

function sameSettings(a: PeerSettings, b: PeerSettings): boolean {
  for (const key of Object.keys(a) as (keyof PeerSettings)[]) if (a[key] !== b[key]) return false;
  return true;
}
