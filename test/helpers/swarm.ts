/**
 * A tiny in-memory swarm for core tests: one Supernode, N Peers with their Uploaders, virtual
 * time, a fixed latency and a fixed transfer time per piece. Every machine runs in the driver
 * runtime exactly as in the simulator and the real processes (core/runtime.ts MachineHost, with
 * the simulator's timers: sim/strategies/dragonfly/machines.ts); a machine fault ends the run
 * with an error naming the machine and its input. It checks nothing else itself; tests read
 * `done`, `failed`, `written` and the machines.
 */
import { configOrThrow, type CoreConfig } from '../../core/config.ts';
import { Peer } from '../../core/peer.ts';
import type { PeerEffect, PeerInput } from '../../core/peer-io.ts';
import type { PeerId, SupernodeToPeer, TaskSpec } from '../../core/protocol.ts';
import { SUPERNODE } from '../../core/protocol.ts';
import type { Rng } from '../../core/rng.ts';
import type { MachineHost } from '../../core/runtime.ts';
import { Supernode } from '../../core/supernode.ts';
import type { SupernodeEffect, SupernodeInput } from '../../core/supernode-io.ts';
import { Uploader, type UploaderEffect, type UploaderInput } from '../../core/uploader.ts';
import { supernodeUploaderConfig, uploaderConfigFor } from '../../core/settings.ts';
import { SimMachines, type EventLoop } from '../../sim/strategies/dragonfly/machines.ts';
import { signGrant, verifyGrant } from '../../sim/strategies/dragonfly/grants.ts';

export const SUPERNODE_ADDR = 'sn-0';
/** The supernode's grant key (a structural token, as in the simulator: sim/strategies/dragonfly/grants.ts). */
const KEY = 'test-key';

function signed(msg: SupernodeToPeer): SupernodeToPeer {
  if (msg.kind === 'task-info') return { ...msg, supernodeKey: KEY, ...(msg.grant ? { grant: signGrant(KEY, msg.grant) } : {}) };
  if (msg.kind === 'assign' && msg.grant) return { ...msg, grant: signGrant(KEY, msg.grant) };
  return msg;
}

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

export class Swarm implements EventLoop {
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
  private stopped = false;
  private readonly handlers: ((arg: number) => void)[] = [];
  private readonly machines: SimMachines;
  private readonly supernodeHost: MachineHost<SupernodeInput, SupernodeEffect>;
  private readonly peerHosts: MachineHost<PeerInput, PeerEffect>[] = [];
  /** Peer i's uploader in slot i; the supernode's uploader last. */
  private readonly uploaderHosts: MachineHost<UploaderInput, UploaderEffect>[] = [];
  /** What the uploader just asked answered the piece request (its effect, drained synchronously). */
  private uploaderAnswer: 'serve' | 'missing' | 'busy' | 'unauthorized' = 'missing';
  /** Supernode keys each peer's uploader trusts (its `trust` effects); the supernode's own uploader trusts its own. */
  private readonly trusted: Set<string>[] = [];
  private readonly taskId = 'a'.repeat(64);
  private readonly spec: TaskSpec = { url: 'http://origin.test/file', headers: {} };

  /** Machine slots: supernode 0, its uploader 1, peer i at 2 + i, peer i's uploader at 2 + N + i. */
  constructor(private readonly opts: SwarmOptions) {
    this.cfg = configOrThrow({ pieceSizeBytes: opts.pieceSizeBytes ?? 64 * 1024, ...opts.config });
    this.machines = new SimMachines(this, 2 + 2 * opts.peers);
    this.supernode = new Supernode(this.cfg, testRng(opts.seed ?? 1));
    this.supernodeHost = this.machines.host(0, 'supernode', this.supernode, (e) => this.onSupernodeEffect(e));
    this.supernodeUploader = new Uploader(supernodeUploaderConfig(this.cfg));
    for (let i = 0; i < opts.peers; i++) {
      const peer = new Peer({ backToSource: this.cfg.backToSource }, peerName(i));
      this.peers.push(peer);
      this.peerHosts.push(this.machines.host(2 + i, `peer ${peerName(i)}`, peer, (e) => this.onPeerEffect(i, e)));
      // Configured from the supernode's settings when the peer receives them (onPeerEffect).
      const uploader = new Uploader();
      this.uploaders.push(uploader);
      this.uploaderHosts.push(this.machines.host(2 + opts.peers + i, `uploader of ${peerName(i)}`, uploader, (e) => this.onUploaderEffect(e)));
      this.written.push(new Set());
      this.trusted.push(new Set());
    }
    this.trusted.push(new Set([KEY]));
    this.uploaderHosts.push(this.machines.host(1, 'uploader of the supernode', this.supernodeUploader, (e) => this.onUploaderEffect(e)));
  }

  get latencyMs(): number { return this.opts.latencyMs ?? 1; }

  /** Run until every peer is done or failed, or until `limitMs` of virtual time; a machine fault throws. */
  run(limitMs = 10 * 60_000): void {
    for (let i = 0; i < this.peers.length; i++) {
      this.schedule(this.opts.arrivalMs?.(i) ?? 0, () => this.toPeer(i, {
        kind: 'start', taskId: this.taskId, task: this.spec, supernodes: [SUPERNODE_ADDR], uploadAddr: peerName(i),
      }));
    }
    let steps = 0;
    while (!this.stopped && this.events.length > 0 && this.done.size + this.failed.size < this.peers.length) {
      const event = this.popEvent();
      if (event.atMs > limitMs) break;
      if (++steps > 5_000_000) throw new Error('swarm did not settle within 5,000,000 events');
      this.nowMs = event.atMs;
      event.run();
    }
    const fault = this.machines.fault;
    if (fault) throw new Error(`${fault.machine} ${fault.kind} on "${fault.input}" at ${fault.atMs} ms: ${fault.message}`);
  }

  // The event loop the machines' timers run on (EventLoop).
  on(_name: string, handler: (arg: number) => void): number { return this.handlers.push(handler) - 1; }
  at(timeMs: number, code: number, arg: number): void { this.schedule(timeMs, () => this.handlers[code](arg)); }
  stop(): void { this.stopped = true; }

  private toSupernode(input: SupernodeInput): void { this.supernodeHost.apply(input); }
  private toPeer(i: number, input: PeerInput): void { this.peerHosts[i].apply(input); }
  private toUploader(i: number, input: UploaderInput): void { this.uploaderHosts[i].apply(input); }

  private onSupernodeEffect(effect: SupernodeEffect): void {
    switch (effect.kind) {
      case 'send': {
        const i = peerIndex(effect.to);
        const msg: SupernodeToPeer = signed(effect.msg);
        this.after(this.latencyMs, () => this.toPeer(i, { kind: 'supernode-message', from: SUPERNODE_ADDR, msg }));
        return;
      }
      case 'cdn-fetch': {
        const pieceSizeBytes = this.cfg.pieceSizeBytes;
        const totalBytes = this.opts.pieceCount * pieceSizeBytes;
        const supernodeUploader = this.peers.length;
        this.after(this.latencyMs, () => this.toSupernode({ kind: 'cdn-length', taskId: effect.taskId, totalBytes }));
        this.toUploader(supernodeUploader, { kind: 'list-task', taskId: effect.taskId, pieceCount: this.opts.pieceCount });
        const stepMs = this.opts.cdnPieceMs ?? 1;
        for (let piece = 0; piece < this.opts.pieceCount; piece++) {
          this.after(this.latencyMs + (piece + 1) * stepMs, () => {
            this.toUploader(supernodeUploader, { kind: 'have-piece', taskId: effect.taskId, piece });
            this.toSupernode({ kind: 'cdn-piece', taskId: effect.taskId, piece, digest: digestOf(piece) });
          });
        }
        return;
      }
      case 'cdn-revalidate':
        this.after(this.latencyMs, () => this.toSupernode({ kind: 'cdn-validated', taskId: effect.taskId, changed: false }));
        return;
      case 'cdn-verify-piece':
        this.after(this.latencyMs, () => this.toSupernode({ kind: 'cdn-piece-intact', taskId: effect.taskId, piece: effect.piece }));
        return;
      case 'probe-peer': {
        // The supernode's own fetch from an accused peer: what a real fetch of that piece would find.
        const i = peerIndex(effect.peerId);
        const served = this.opts.faulty?.get(i) === undefined && this.uploaders[i].holds(effect.taskId, effect.piece);
        this.after(2 * this.latencyMs, () => this.toSupernode({
          kind: 'probe-result', taskId: effect.taskId, peerId: effect.peerId, outcome: served ? 'served' : 'failed',
        }));
        return;
      }
      default:
        return;
    }
  }

  private onPeerEffect(i: number, effect: PeerEffect): void {
    switch (effect.kind) {
      case 'settings':
        this.toUploader(i, { kind: 'configure', config: uploaderConfigFor(effect.settings, 0, 0) });
        return;
      case 'trust':
        this.trusted[i].add(effect.supernodeKey);
        return;
      case 'send':
        this.after(this.latencyMs, () => this.toSupernode({ kind: 'peer-message', from: peerName(i), msg: effect.msg }));
        return;
      case 'plan':
        this.toUploader(i, { kind: 'list-task', taskId: effect.taskId, pieceCount: effect.pieceCount });
        return;
      case 'fetch-piece':
        this.after(this.latencyMs, () => this.serve(i, effect));
        return;
      case 'write-piece':
        this.written[i].add(effect.piece);
        this.toUploader(i, { kind: 'have-piece', taskId: effect.taskId, piece: effect.piece });
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

  private onUploaderEffect(effect: UploaderEffect): void {
    if (effect.kind === 'serve') this.uploaderAnswer = 'serve';
    else if (effect.kind === 'refuse') this.uploaderAnswer = effect.reason;
  }

  /** Uploader `uploader`'s answer to a piece request. */
  private ask(uploader: number, request: Extract<UploaderInput, { kind: 'piece-request' }>): 'serve' | 'missing' | 'busy' | 'unauthorized' {
    this.uploaderAnswer = 'missing';
    this.toUploader(uploader, request);
    return this.uploaderAnswer;
  }

  /** The source's uploader answers a piece request; bytes arrive after the transfer time. */
  private serve(requester: number, fetch: Extract<PeerEffect, { kind: 'fetch-piece' }>): void {
    const fromSupernode = fetch.source === SUPERNODE;
    const sourceIndex = fromSupernode ? -1 : peerIndex(fetch.source);
    const uploader = fromSupernode ? this.peers.length : sourceIndex;
    const fault = fromSupernode ? undefined : this.opts.faulty?.get(sourceIndex);
    const requestId = this.seq++;
    const answer = this.ask(uploader, {
      kind: 'piece-request', from: peerName(requester), requestId, taskId: fetch.taskId, piece: fetch.piece, grant: verifyGrant(this.trusted[uploader], fetch.grant),
    });
    const reply = (digest: string | null, failure?: 'refused' | 'busy' | 'unauthorized') =>
      this.toPeer(requester, { kind: 'piece-fetched', piece: fetch.piece, source: fetch.source, digest, ...(failure ? { failure } : {}) });
    if (answer !== 'serve' || fault === 'refuse') {
      if (answer === 'serve') this.toUploader(uploader, { kind: 'upload-finished', from: peerName(requester), requestId });
      this.after(this.latencyMs, () => reply(null, answer === 'busy' || answer === 'unauthorized' ? answer : 'refused'));
      return;
    }
    if (fromSupernode) this.supernodeUploads++; else this.peerUploads++;
    this.after(this.opts.pieceTransferMs ?? 10, () => {
      this.toUploader(uploader, { kind: 'upload-finished', from: peerName(requester), requestId });
      reply(fault === 'corrupt' ? 'sha256:corrupt' : digestOf(fetch.piece));
    });
  }

  private after(delayMs: number, run: () => void): void { this.schedule(this.nowMs + delayMs, run); }

  private schedule(atMs: number, run: () => void): void {
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
