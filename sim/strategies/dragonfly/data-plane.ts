/**
 * Piece data between hosts and their sources, and a host's back-to-source download.
 *
 * Theory of operation. A peer's `fetch-piece` becomes a `piece-request` that reaches the
 * source's Uploader (a host's, or a supernode's) one latency later, with the requester's grant
 * verified against the keys that uploader trusts (grants.ts). The uploader decides: `serve`
 * starts a flow from the source to the requester one latency later (the response's first byte);
 * `refuse` travels back as a failed fetch (`busy` or `refused`). When the flow delivers its last
 * byte, the uploader hears `upload-finished` and the requester's Peer gets `piece-fetched` with
 * the digest of what it received — `pieceDigest(piece)`, or another string when the source is a
 * corrupt uploader, or when a lying requester pretends so — and the Peer's own verification and the supernode's blacklists do the rest.
 * A `cancel-fetch` cuts a running flow, or marks a fetch not yet flowing so its next step ends
 * it. A `fetch-source` is one flow of the missing ranges (or the whole file) from the origin after one round trip.
 *
 * A crash cuts every flow at the dead node (`cutFlowsAt`); the living end hears about it as a
 * real connection would tell it: a requester gets `unreachable`, an uploader `upload-finished`.
 *
 * With the scenario's `tcp:` model on (connections.ts), a request to a new source first waits
 * for its connection to open, and a served piece on a cold connection starts after the time slow
 * start loses.
 */
import type { ByteRange, PeerEffect, PeerInput } from '../../../core/peer-io.ts';
import { SUPERNODE, type FailureKind } from '../../../core/protocol.ts';
import type { UploaderEffect, UploaderInput } from '../../../core/uploader.ts';
import { hostId, hostOf } from './control.ts';
import type { DragonflyRun } from './run.ts';
import { modelsTcp } from '../../scenario.ts';
import { Connections } from './connections.ts';
import type { Transfer } from './transfers.ts';
import { corruptDigest, pieceDigest, TASK_ID } from './task.ts';
import { verifyGrant } from './grants.ts';

type FetchPiece = Extract<PeerEffect, { kind: 'fetch-piece' }>;

export class DataPlane {
  private readonly requestEvent: number;
  private readonly startFlowEvent: number;
  /**
   * Per host, 1 when it is a corrupt uploader / a liar (world.faults): read at every piece's end,
   * here side by side rather than from each host's fault record.
   */
  private readonly corruptHost: Uint8Array;
  private readonly liarHost: Uint8Array;
  private readonly connections: Connections | null;

  constructor(private readonly run: DragonflyRun) {
    this.requestEvent = run.sim.on('piece-request', (id) => this.onRequest(id));
    this.startFlowEvent = run.sim.on('flow-start', (id) => this.onStartFlow(id));
    const faults = run.world.faults;
    this.corruptHost = Uint8Array.from(faults, (f) => (f.corrupt ? 1 : 0));
    this.liarHost = Uint8Array.from(faults, (f) => (f.liar ? 1 : 0));
    const { tcp } = run.world.scenario;
    this.connections = modelsTcp(tcp) ? new Connections(tcp, run.sim.network) : null;
  }

  /** A peer's `fetch-piece`: the request reaches the source's uploader one latency later. */
  fetchPiece(host: number, effect: FetchPiece): void {
    const { sim, supernodes, transfers } = this.run;
    const sourceNode = effect.source === SUPERNODE
      ? sim.supernodeNodes[supernodes.indexOf(effect.sourceAddr)]
      : sim.hostNode(hostOf(effect.sourceAddr));
    const transfer: Transfer = {
      kind: 'piece', owner: host, piece: effect.piece, source: effect.source, sourceNode,
      sizeBytes: effect.endByte - effect.startByte, flowId: -1, cancelled: false, runEnd: -1, onConnection: false,
    };
    if (effect.grant) transfer.grant = effect.grant;
    const id = transfers.open(transfer);
    const hostNode = sim.hostNode(host);
    const latencyMs = sim.messageDelayMs(hostNode, sourceNode);
    sim.at(sim.nowMs + (this.connections ? this.connections.requestDelayMs(sim.nowMs, hostNode, sourceNode, latencyMs) : latencyMs), this.requestEvent, id);
  }

  /** A peer's `cancel-fetch` (its piece timeout fired): stop the transfer. */
  cancelFetch(host: number, piece: number): void {
    const { sim, transfers } = this.run;
    const id = transfers.fetchOfPiece(host, piece);
    if (id < 0) return;
    transfers.forgetFetch(host, piece);
    const transfer = transfers.get(id);
    if (transfer.flowId >= 0) {
      sim.network.cancelFlow(sim.nowMs, transfer.flowId);
      this.uploadFinished(transfer, id);
      this.endTransfer(id);
    } else transfer.cancelled = true;
  }

  /** A peer's `fetch-source`: the missing ranges (or the whole file) from the origin, as one flow after one round trip. */
  fetchSource(host: number, missing?: readonly ByteRange[]): void {
    const { sim, transfers, world } = this.run;
    const sizeBytes = missing ? missing.reduce((sum, r) => sum + r.endByte - r.startByte, 0) : world.scenario.fileSizeBytes;
    const id = transfers.open({
      kind: 'source', owner: host, piece: -1, source: 'origin', sourceNode: sim.originNode,
      sizeBytes, flowId: -1, cancelled: false, runEnd: -1, onConnection: false,
    });
    sim.at(sim.nowMs + 2 * sim.latencyMs(sim.hostNode(host), sim.originNode), this.startFlowEvent, id);
  }

  /** An uploader at `node` answered a piece request. */
  onUploaderEffect(node: number, effect: UploaderEffect): void {
    const { sim, transfers, counters } = this.run;
    if (effect.kind === 'serve') {
      const transfer = transfers.get(effect.requestId);
      sim.at(sim.nowMs + sim.messageDelayMs(node, sim.hostNode(transfer.owner)), this.startFlowEvent, effect.requestId);
    } else if (effect.kind === 'refuse') {
      counters.refusedFetches++;
      const transfer = transfers.get(effect.requestId);
      if (transfer.cancelled) return this.endTransfer(effect.requestId);
      const failure: FailureKind = effect.reason === 'missing' ? 'refused' : effect.reason;
      this.failFetch(effect.requestId, failure, sim.messageDelayMs(node, sim.hostNode(transfer.owner)));
    }
  }

  /** A piece's last byte reached its requester. */
  pieceDone(id: number): void {
    const { world, sim, transfers, hosts, counters } = this.run;
    const transfer = transfers.get(id);
    transfer.flowId = -1;
    const corrupt = transfer.source !== SUPERNODE && this.corruptHost[sim.nodeHost(transfer.sourceNode)] === 1;
    // A liar's driver tells its own Peer that good bytes from a peer were bad: the core then
    // reports the source as failed, as a hostile client speaking the protocol would.
    const lied = transfer.source !== SUPERNODE && !corrupt && this.liarHost[transfer.owner] === 1;
    if (corrupt) counters.corruptFetches++;
    else if (lied) counters.liedReports++;
    else hosts.markVerified(transfer.owner, transfer.piece);
    this.uploadFinished(transfer, id);
    this.endTransfer(id);
    const fetched: PeerInput = {
      kind: 'piece-fetched', piece: transfer.piece, source: transfer.source, digest: corrupt || lied ? corruptDigest(transfer.piece) : pieceDigest(transfer.piece),
    };
    // A real host's per-piece work (verify, write, tell its uploader) before its core hears of it.
    const overheadMs = world.scenario.pieceOverheadMs;
    if (overheadMs > 0) this.run.control.deliverToPeer(transfer.owner, overheadMs, fetched);
    else hosts.applyPeer(transfer.owner, fetched);
  }

  /** A back-to-source download's last byte arrived. */
  sourceDone(id: number): void {
    const { transfers, hosts } = this.run;
    const transfer = transfers.get(id);
    transfers.end(id);
    hosts.applyPeer(transfer.owner, { kind: 'source-fetched', ok: true, sizeBytes: transfer.sizeBytes });
  }

  /** Cut every flow at a node that just died; the living ends hear about it. */
  cutFlowsAt(node: number): void {
    const { sim, transfers, cdn } = this.run;
    for (const flowId of sim.network.flowsAt(node)) {
      const id = sim.network.tag(flowId);
      sim.network.cancelFlow(sim.nowMs, flowId);
      const transfer = transfers.get(id);
      transfer.flowId = -1;
      if (transfer.kind === 'cdn') cdn.cut(id);
      else if (transfer.kind === 'source') transfers.end(id);
      else if (transfer.sourceNode === node) this.failFetch(id, 'unreachable', sim.latencyMs(node, sim.hostNode(transfer.owner)));
      else {
        this.uploadFinished(transfer, id);
        this.endTransfer(id);
      }
    }
  }

  /** The request reaches the source's uploader (or finds the source dead). */
  private onRequest(id: number): void {
    const { sim, transfers, supernodes } = this.run;
    const transfer = transfers.get(id);
    if (transfer.cancelled) return this.endTransfer(id);
    if (this.sourceDead(transfer)) return this.failFetch(id, 'unreachable', sim.latencyMs(transfer.sourceNode, sim.hostNode(transfer.owner)));
    const fromSupernode = transfer.source === SUPERNODE;
    const uploaderAt = fromSupernode ? supernodes.indexOfNode(transfer.sourceNode) : sim.nodeHost(transfer.sourceNode);
    const trusted = fromSupernode ? supernodes.trustedKeys(uploaderAt) : this.run.hosts.trustedKeys(uploaderAt);
    const input: UploaderInput = {
      kind: 'piece-request', from: hostId(transfer.owner), requestId: id, taskId: TASK_ID, piece: transfer.piece, grant: verifyGrant(trusted, transfer.grant),
    };
    if (fromSupernode) supernodes.applyUploader(uploaderAt, input);
    else this.run.hosts.applyUploader(uploaderAt, input);
  }

  /** The first byte of a served piece (or of the source's answer) reaches the requester. */
  private onStartFlow(id: number): void {
    const { sim, transfers } = this.run;
    const transfer = transfers.get(id);
    const sourceDead = transfer.kind === 'piece' && this.sourceDead(transfer);
    if (transfer.cancelled || sim.crashed[transfer.owner]) {
      if (transfer.kind === 'piece' && !sourceDead) this.uploadFinished(transfer, id);
      return this.endTransfer(id);
    }
    if (sourceDead) return this.failFetch(id, 'unreachable', 0);
    const hostNode = sim.hostNode(transfer.owner);
    if (this.connections && transfer.kind === 'piece' && !transfer.onConnection) {
      // Slow start on a cold connection: the flow starts when its window has opened.
      transfer.onConnection = true;
      const delayMs = this.connections.flowStarting(sim.nowMs, hostNode, transfer.sourceNode, transfer.sizeBytes, sim.latencyMs(transfer.sourceNode, hostNode));
      if (delayMs > 0) return sim.at(sim.nowMs + delayMs, this.startFlowEvent, id);
    }
    transfer.flowId = sim.network.startFlow(sim.nowMs, transfer.sourceNode, hostNode, transfer.sizeBytes, 0, id);
  }

  /** End a transfer (any kind), and its place on its connection (nothing more with the tcp: model off). */
  private endTransfer(id: number): void {
    const { sim, transfers } = this.run;
    if (this.connections) {
      const transfer = transfers.get(id);
      if (transfer.onConnection) this.connections.flowEnded(sim.nowMs, sim.hostNode(transfer.owner), transfer.sourceNode);
    }
    transfers.end(id);
  }

  private sourceDead(transfer: Transfer): boolean {
    const { sim, supernodes } = this.run;
    return transfer.source === SUPERNODE
      ? supernodes.isDead(supernodes.indexOfNode(transfer.sourceNode))
      : sim.crashed[sim.nodeHost(transfer.sourceNode)] === 1;
  }

  /** The fetch failed: its requester hears so after `delayMs` (unless it gave up on it). */
  private failFetch(id: number, failure: FailureKind, delayMs: number): void {
    const { transfers, control } = this.run;
    const transfer = transfers.get(id);
    if (!transfer.cancelled) {
      control.deliverToPeer(transfer.owner, delayMs, { kind: 'piece-fetched', piece: transfer.piece, source: transfer.source, digest: null, failure });
    }
    this.endTransfer(id);
  }

  /** The source's uploader frees the slot of this transfer. */
  private uploadFinished(transfer: Transfer, id: number): void {
    const { sim, supernodes, hosts } = this.run;
    const input: UploaderInput = { kind: 'upload-finished', requestId: id, from: hostId(transfer.owner) };
    if (transfer.source === SUPERNODE) supernodes.applyUploader(supernodes.indexOfNode(transfer.sourceNode), input);
    else hosts.applyUploader(sim.nodeHost(transfer.sourceNode), input);
  }
}
