/**
 * A tiny in-memory swarm for core tests: one Supernode, N Peers with their Uploaders, virtual
 * time, a fixed latency and a fixed transfer time per piece. It drives the machines exactly as
 * the real drivers do (applyAndDrain / fireDue) and checks nothing itself; tests read `log`,
 * `done`, `written` and the machines.
 */
import { configOrThrow, type CoreConfig } from '../../core/config.ts';
import { applyAndDrain, fireDue } from '../../core/drive.ts';
import { Peer } from '../../core/peer.ts';
import type { PeerEffect, PeerInput } from '../../core/peer-io.ts';
import type { PeerId, SupernodeToPeer, TaskSpec } from '../../core/protocol.ts';
import { SUPERNODE } from '../../core/protocol.ts';
import type { Rng } from '../../core/rng.ts';
import { Supernode } from '../../core/supernode.ts';
import type { SupernodeEffect, SupernodeInput } from '../../core/supernode-io.ts';
import { Uploader } from '../../core/uploader.ts';
import { supernodeUploaderConfig, uploaderConfigFor } from '../../core/settings.ts';

export const SUPERNODE_ADDR = 'sn-0';

/** Small deterministic PRNG (mulberry32) so core tests need no driver package. */
export function testRng(seed: number): Rng {
  let state = seed >>> 0;
  return {
    next() {
      state = (state + 0x6d2b79f5) >>> 0;
      let t = state;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    },
  };
}

export interface SwarmOptions {
  peers: number;
  pieceCount: number;
  pieceSizeBytes?: number;
  latencyMs?: number;
  pieceTransferMs?: number;
  cdnPieceMs?: number;
  seed?: number;
  config?: Partial<CoreConfig>;
  /** Peers whose uploads always fail: 'refuse' answers missing, 'corrupt' sends bad bytes. */
  faulty?: Map<number, 'refuse' | 'corrupt'>;
  /** Peer indexes whose arrival is delayed by this many ms. */
  arrivalMs?: (peer: number) => number;
}

type Event = { atMs: number; seq: number; run: () => void };

export class Swarm {
  readonly cfg: CoreConfig;
  readonly supernode: Supernode;
  readonly peers: Peer[] = [];
  readonly uploaders: Uploader[] = [];
  readonly supernodeUploader: Uploader;
  readonly done = new Map<number, Extract<PeerEffect, { kind: 'done' }>>();
  readonly failed = new Map<number, Extract<PeerEffect, { kind: 'failed' }>>();
  readonly written: Set<number>[] = [];
  supernodeUploads = 0;
  peerUploads = 0;
  nowMs = 0;
  private events: Event[] = [];
  private seq = 0;
  private readonly taskId = 'a'.repeat(64);
  private readonly spec: TaskSpec = { url: 'http://origin.test/file', headers: {} };

  constructor(private readonly opts: SwarmOptions) {
    this.cfg = configOrThrow({ pieceSizeBytes: opts.pieceSizeBytes ?? 64 * 1024, ...opts.config });
    this.supernode = new Supernode(this.cfg, testRng(opts.seed ?? 1));
    this.supernodeUploader = new Uploader(supernodeUploaderConfig(this.cfg));
    for (let i = 0; i < opts.peers; i++) {
      this.peers.push(new Peer({ backToSource: this.cfg.backToSource }, peerName(i)));
      // Configured from the supernode's settings when the peer receives them (onPeerEffect).
      this.uploaders.push(new Uploader());
      this.written.push(new Set());
    }
  }

  get latencyMs(): number { return this.opts.latencyMs ?? 1; }

  /** Run until every peer is done or failed, or until `limitMs` of virtual time. */
  run(limitMs = 10 * 60_000): void {
    for (let i = 0; i < this.peers.length; i++) {
      this.at(this.opts.arrivalMs?.(i) ?? 0, () => this.toPeer(i, {
        kind: 'start', taskId: this.taskId, task: this.spec, supernodes: [SUPERNODE_ADDR], uploadAddr: peerName(i),
      }));
    }
    let steps = 0;
    while (this.events.length > 0 && this.done.size + this.failed.size < this.peers.length) {
      const event = this.popEvent();
      if (event.atMs > limitMs) break;
      if (++steps > 5_000_000) throw new Error('swarm did not settle within 5,000,000 events');
      this.nowMs = event.atMs;
      event.run();
    }
  }

  private toSupernode(input: SupernodeInput): void {
    applyAndDrain(this.supernode, this.nowMs, input, (e) => this.onSupernodeEffect(e));
    this.armTimer(this.supernode.nextDeadlineMs(), () => fireDue(this.supernode, this.nowMs, (e) => this.onSupernodeEffect(e)));
  }

  private toPeer(i: number, input: PeerInput): void {
    const peer = this.peers[i];
    applyAndDrain(peer, this.nowMs, input, (e) => this.onPeerEffect(i, e));
    this.armTimer(peer.nextDeadlineMs(), () => fireDue(peer, this.nowMs, (e) => this.onPeerEffect(i, e)));
  }

  private onSupernodeEffect(effect: SupernodeEffect): void {
    switch (effect.kind) {
      case 'send': {
        const i = peerIndex(effect.to);
        const msg: SupernodeToPeer = effect.msg;
        this.after(this.latencyMs, () => this.toPeer(i, { kind: 'supernode-message', from: SUPERNODE_ADDR, msg }));
        return;
      }
      case 'cdn-fetch': {
        const pieceSizeBytes = this.cfg.pieceSizeBytes;
        const totalBytes = this.opts.pieceCount * pieceSizeBytes;
        this.after(this.latencyMs, () => this.toSupernode({ kind: 'cdn-length', taskId: effect.taskId, totalBytes }));
        applyAndDrain(this.supernodeUploader, this.nowMs, { kind: 'list-task', taskId: effect.taskId, pieceCount: this.opts.pieceCount }, () => {});
        const stepMs = this.opts.cdnPieceMs ?? 1;
        for (let piece = 0; piece < this.opts.pieceCount; piece++) {
          this.after(this.latencyMs + (piece + 1) * stepMs, () => {
            applyAndDrain(this.supernodeUploader, this.nowMs, { kind: 'have-piece', taskId: effect.taskId, piece }, () => {});
            this.toSupernode({ kind: 'cdn-piece', taskId: effect.taskId, piece, digest: digestOf(piece) });
          });
        }
        return;
      }
      case 'cdn-revalidate':
        this.after(this.latencyMs, () => this.toSupernode({ kind: 'cdn-validated', taskId: effect.taskId, changed: false }));
        return;
      default:
        return;
    }
  }

  private onPeerEffect(i: number, effect: PeerEffect): void {
    switch (effect.kind) {
      case 'settings':
        applyAndDrain(this.uploaders[i], this.nowMs, { kind: 'configure', config: uploaderConfigFor(effect.settings, 0, 0) }, () => {});
        return;
      case 'send':
        this.after(this.latencyMs, () => this.toSupernode({ kind: 'peer-message', from: peerName(i), msg: effect.msg }));
        return;
      case 'plan':
        applyAndDrain(this.uploaders[i], this.nowMs, { kind: 'list-task', taskId: effect.taskId, pieceCount: effect.pieceCount }, () => {});
        return;
      case 'fetch-piece':
        this.after(this.latencyMs, () => this.serve(i, effect));
        return;
      case 'write-piece':
        this.written[i].add(effect.piece);
        applyAndDrain(this.uploaders[i], this.nowMs, { kind: 'have-piece', taskId: effect.taskId, piece: effect.piece }, () => {});
        return;
      case 'done':
        this.done.set(i, effect);
        return;
      case 'failed':
        this.failed.set(i, effect);
        return;
      default:
        return;
    }
  }

  /** The source's uploader answers a piece request; bytes arrive after the transfer time. */
  private serve(requester: number, fetch: Extract<PeerEffect, { kind: 'fetch-piece' }>): void {
    const fromSupernode = fetch.source === SUPERNODE;
    const sourceIndex = fromSupernode ? -1 : peerIndex(fetch.source);
    const uploader = fromSupernode ? this.supernodeUploader : this.uploaders[sourceIndex];
    const fault = fromSupernode ? undefined : this.opts.faulty?.get(sourceIndex);
    const requestId = this.seq++;
    const decision: { answer: 'serve' | 'missing' | 'busy' } = { answer: 'missing' };
    applyAndDrain(uploader, this.nowMs, { kind: 'piece-request', from: peerName(requester), requestId, taskId: fetch.taskId, piece: fetch.piece }, (e) => {
      if (e.kind === 'serve') decision.answer = 'serve';
      else if (e.kind === 'refuse') decision.answer = e.reason;
    });
    const answer = decision.answer;
    const reply = (digest: string | null, failure?: 'refused' | 'busy') =>
      this.toPeer(requester, { kind: 'piece-fetched', piece: fetch.piece, source: fetch.source, digest, ...(failure ? { failure } : {}) });
    if (answer !== 'serve' || fault === 'refuse') {
      if (answer === 'serve') applyAndDrain(uploader, this.nowMs, { kind: 'upload-finished', from: peerName(requester), requestId }, () => {});
      this.after(this.latencyMs, () => reply(null, answer === 'busy' ? 'busy' : 'refused'));
      return;
    }
    if (fromSupernode) this.supernodeUploads++; else this.peerUploads++;
    this.after(this.opts.pieceTransferMs ?? 10, () => {
      applyAndDrain(uploader, this.nowMs, { kind: 'upload-finished', from: peerName(requester), requestId }, () => {});
      reply(fault === 'corrupt' ? 'sha256:corrupt' : digestOf(fetch.piece));
    });
  }

  private armTimer(deadlineMs: number | null, fire: () => void): void {
    if (deadlineMs === null) return;
    this.at(Math.max(deadlineMs, this.nowMs), fire);
  }

  private after(delayMs: number, run: () => void): void { this.at(this.nowMs + delayMs, run); }

  private at(atMs: number, run: () => void): void {
    const event = { atMs, seq: this.seq++, run };
    // Binary insertion keeps (time, sequence) order; fine for the small swarms of unit tests.
    let lo = 0;
    let hi = this.events.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const other = this.events[mid];
      if (other.atMs < atMs || (other.atMs === atMs && other.seq < event.seq)) lo = mid + 1; else hi = mid;
    }
    this.events.splice(lo, 0, event);
  }

  private popEvent(): Event { return this.events.shift()!; }
}

export function peerName(i: number): PeerId { return `peer-${i}`; }
export function peerIndex(id: PeerId): number { return Number(id.slice(5)); }
export function digestOf(piece: number): string { return `sha256:piece-${piece}`; }
