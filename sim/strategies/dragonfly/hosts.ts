/**
 * The hosts of a dragonfly run: each one a core `Peer` (dfget's download) and the core `Uploader`
 * that serves its pieces, created when the host arrives and run in the driver runtime
 * (machines.ts). This file carries out a peer's effects.
 *
 * Settings reach a host as they reach a real dfget: the peer is built with the host's local
 * settings only (`world.hostLocal`), adopts what its supernode sends in `task-info` and says so
 * with a `settings` effect; the uploader, which starts with the core's defaults, is then
 * reconfigured for this host's upload rate by the one builder of uploader configs
 * (core/settings.ts `uploaderConfigFor`). A simulated host never exits, so its idle-exit time is 0.
 *
 * A peer's `trust` (its supernode's key, from task-info) is what its uploader accepts grants
 * signed by (grants.ts). A `lying-peer` host's pulls and reports are rewritten on the way out
 * (`lie`): the core peer itself is honest, the supernode hears lies.
 * A host declares its IDC and rack at registration as dfget's `--idc`/`--location` do, unless
 * the scenario says `topology.declared: false` (sim/topology.ts `placementOf`).
 *
 * `verifiedGood` records, per host, the pieces whose received bytes carried the right digest; a
 * `write-piece` for any other piece is counted as an unverified write (an oracle, sim/checks.ts).
 */
import { Bitset } from '../../../core/bitset.ts';
import { Peer } from '../../../core/peer.ts';
import type { PeerEffect, PeerInput } from '../../../core/peer-io.ts';
import { SUPERNODE, type PeerToSupernode, type PieceResult } from '../../../core/protocol.ts';
import type { MachineHost } from '../../../core/runtime.ts';
import { uploaderConfigFor } from '../../../core/settings.ts';
import { DEFAULT_UPLOADER, Uploader, type UploaderEffect, type UploaderInput } from '../../../core/uploader.ts';
import { hostId } from './control.ts';
import type { DragonflyRun } from './run.ts';
import { TASK, TASK_ID } from './task.ts';

const NO_KEYS: ReadonlySet<string> = new Set();

export class Hosts {
  private readonly peers: (Peer | null)[];
  private readonly uploaderMachines: (Uploader | null)[];
  private readonly peerHosts: (MachineHost<PeerInput, PeerEffect> | null)[];
  private readonly uploaderHosts: (MachineHost<UploaderInput, UploaderEffect> | null)[];
  private readonly verifiedGood: (Bitset | null)[];
  /** Supernode keys each host's uploader trusts (its peer's `trust` effects; one task per run). */
  private readonly trusted: (Set<string> | null)[];
  /** Lying hosts that already told their one true success. */
  private readonly liarClaimed: Uint8Array;
  /** Per host, 1 for a `lying-peer` (world.faults; read at every message a peer sends). */
  private readonly lyingHost: Uint8Array;
  private readonly arriveEvent: number;

  constructor(private readonly run: DragonflyRun, private readonly pattern: 'p2p' | 'cdn') {
    const count = run.world.scenario.hostCount;
    this.peers = new Array<Peer | null>(count).fill(null);
    this.uploaderMachines = new Array<Uploader | null>(count).fill(null);
    this.peerHosts = new Array<MachineHost<PeerInput, PeerEffect> | null>(count).fill(null);
    this.uploaderHosts = new Array<MachineHost<UploaderInput, UploaderEffect> | null>(count).fill(null);
    this.verifiedGood = new Array<Bitset | null>(count).fill(null);
    this.trusted = new Array<Set<string> | null>(count).fill(null);
    this.liarClaimed = new Uint8Array(count);
    this.lyingHost = Uint8Array.from(run.world.faults, (f) => (f.lying ? 1 : 0));
    this.arriveEvent = run.sim.on('arrive', (host) => this.arrive(host));
  }

  scheduleArrivals(): void {
    const { sim, world } = this.run;
    for (let host = 0; host < world.scenario.hostCount; host++) sim.at(world.arrivalMs[host], this.arriveEvent, host);
  }

  /** The host's peer and uploader machines (null before it arrives), for crash handling and tests. */
  peer(host: number): Peer | null { return this.peers[host]; }
  uploader(host: number): Uploader | null { return this.uploaderMachines[host]; }

  applyPeer(host: number, input: PeerInput): void { this.peerHosts[host]?.apply(input); }
  applyUploader(host: number, input: UploaderInput): void { this.uploaderHosts[host]?.apply(input); }

  trustedKeys(host: number): ReadonlySet<string> { return this.trusted[host] ?? NO_KEYS; }

  /** The bytes of `piece` that host received carried the right digest. */
  markVerified(host: number, piece: number): void { this.verifiedGood[host]?.add(piece); }

  /** The host stops: its machines take no more input. */
  crash(host: number): void {
    this.peerHosts[host]?.close();
    this.uploaderHosts[host]?.close();
  }

  /**
   * Machine slots: after the supernodes' 2 x S, peer h in slot 2S + h and its uploader in
   * 2S + N + h (N hosts).
   */
  private arrive(host: number): void {
    const { sim, world, machines, dataPlane } = this.run;
    if (sim.crashed[host]) return;
    const firstSlot = 2 * world.scenario.supernodeCount;
    const id = hostId(host);
    const node = sim.hostNode(host);
    const peer = new Peer(world.hostLocal, id);
    const uploader = new Uploader({ ...DEFAULT_UPLOADER, idleExitMs: 0 });
    this.peers[host] = peer;
    this.uploaderMachines[host] = uploader;
    this.peerHosts[host] = machines.host(firstSlot + host, `peer ${id}`, peer, (effect) => this.onPeerEffect(host, effect));
    this.uploaderHosts[host] = machines.host(firstSlot + world.scenario.hostCount + host, `uploader of ${id}`, uploader,
      (effect) => dataPlane.onUploaderEffect(node, effect));
    this.applyPeer(host, {
      kind: 'start', taskId: TASK_ID, task: TASK, supernodes: this.run.supernodes.addrs, uploadAddr: id, pattern: this.pattern,
      uploadRateBytesPerSec: world.hostUpBps[host], ...sim.topology.placementOf(node),
    });
  }

  /**
   * A lying host's report: every fetch from a peer becomes a `corrupt` failure, except its first
   * success (which makes it look like a peer with a good record). Its own peer, which verified
   * what it got, carries on; what the supernode believes is what the liar says.
   */
  private lie(host: number, msg: PeerToSupernode): PeerToSupernode {
    if (msg.kind !== 'pull' && msg.kind !== 'report') return msg;
    const results = msg.results.map((result): PieceResult => {
      if (result.source === SUPERNODE) return result;
      if (result.ok && this.liarClaimed[host] === 0) {
        this.liarClaimed[host] = 1;
        return result;
      }
      return { piece: result.piece, source: result.source, ok: false, failure: 'corrupt' };
    });
    return { ...msg, results };
  }

  private onPeerEffect(host: number, effect: PeerEffect): void {
    const { sim, world, control, dataPlane, counters } = this.run;
    switch (effect.kind) {
      case 'send':
        return control.fromPeer(host, effect.to, this.lyingHost[host] === 1 ? this.lie(host, effect.msg) : effect.msg);
      case 'trust':
        (this.trusted[host] ??= new Set()).add(effect.supernodeKey);
        return;
      case 'file-digest':
        // A real dfget stops needing to hash the whole file; the model charges no CPU for it.
        return;
      case 'settings':
        if (effect.origin === 'default') counters.peersOnDefaultSettings++;
        return this.applyUploader(host, { kind: 'configure', config: uploaderConfigFor(effect.settings, world.hostUpBps[host], 0) });
      case 'plan':
        this.verifiedGood[host] = new Bitset(effect.pieceCount);
        return this.applyUploader(host, { kind: 'list-task', taskId: TASK_ID, pieceCount: effect.pieceCount });
      case 'fetch-piece':
        return dataPlane.fetchPiece(host, effect);
      case 'cancel-fetch':
        return dataPlane.cancelFetch(host, effect.piece);
      case 'write-piece':
        if (!this.verifiedGood[host]?.has(effect.piece)) counters.unverifiedWrites++;
        return this.applyUploader(host, { kind: 'have-piece', taskId: TASK_ID, piece: effect.piece });
      case 'fetch-source':
        counters.backToSourceHosts++;
        return dataPlane.fetchSource(host, effect.missing);
      case 'done':
        return sim.hostFinished(host);
      case 'failed':
        return sim.hostFailed(host, effect.reason);
      case 'log':
        if (effect.level === 'warn') counters.warnings++;
        return;
    }
  }
}
