/**
 * Control-message delivery between hosts and supernodes (register, pull, task-info, assign,
 * wait, ...): each message arrives one latency after it is sent, parked in the event queue.
 *
 * What a real connection would tell its ends is modelled too: a message to a crashed supernode
 * is lost and its sender hears `supernode-down` one latency later (a refused connection); the
 * supernodes hear `peer-gone` one latency after a host crashes (its connection closed). Answers
 * from the simulated origin to a supernode (revalidation, credential check) take one origin
 * round trip.
 *
 * A host is addressed as `h<index>` (its PeerId and upload address); a message to a supernode
 * carries (supernode << 20 | host) as its integer target, hence at most 2^20 - 1 hosts.
 */
import type { PeerInput } from '../../../core/peer-io.ts';
import type { PeerId, PeerToSupernode, SupernodeToPeer } from '../../../core/protocol.ts';
import type { SupernodeInput } from '../../../core/supernode-io.ts';
import type { DragonflyRun } from './run.ts';

export const MAX_HOSTS = (1 << 20) - 1;
export const MAX_SUPERNODES = (1 << 10) - 1;

/**
 * Host ids are made once and kept: the same string object every time, so the core's maps keyed
 * by PeerId hash it once and compare it by reference (a fresh `h${host}` per message cost a
 * string build and a hash at every lookup).
 */
const hostIds: PeerId[] = [];
export function hostId(host: number): PeerId {
  if (!(Number.isInteger(host) && host >= 0 && host <= MAX_HOSTS)) return `h${host}`;
  let id = hostIds[host];
  if (id === undefined) {
    for (let h = hostIds.length; h <= host; h++) hostIds.push(`h${h}`);
    id = hostIds[host];
  }
  return id;
}
/**
 * The host of an id made by `hostId`. Read digit by digit (a supernode message to a peer asks
 * it at every send: no sliced string per call); anything but `h` and digits goes the slow way.
 */
export function hostOf(id: PeerId): number {
  let host = 0;
  if (id.length < 2 || id.length > 8 || id.charCodeAt(0) !== 104 /* h */) return Number(id.slice(1));
  for (let i = 1; i < id.length; i++) {
    const digit = id.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return Number(id.slice(1));
    host = host * 10 + digit;
  }
  return host;
}

export class ControlPlane {
  private readonly peerMessageEvent: number;
  private readonly supernodeInputEvent: number;
  private readonly peerInputEvent: number;

  constructor(private readonly run: DragonflyRun) {
    this.peerMessageEvent = run.sim.on('peer-to-supernode', (slot) => this.onPeerMessage(slot));
    this.supernodeInputEvent = run.sim.on('supernode-input', (slot) => this.onSupernodeInput(slot));
    this.peerInputEvent = run.sim.on('to-peer', (slot) => this.onPeerInput(slot));
  }

  /** A peer's `send`: the message reaches supernode `to` one latency later. */
  fromPeer(host: number, to: string, msg: PeerToSupernode): void {
    const { sim, supernodes } = this.run;
    const sn = supernodes.indexOf(to);
    if (supernodes.isDead(sn)) return this.supernodeDown(host, sn);
    sim.post(sim.nowMs + sim.messageDelayMs(sim.hostNode(host), sim.supernodeNodes[sn]), this.peerMessageEvent, msg, (sn << 20) | host);
  }

  /** A supernode's `send`: the message reaches peer `to` one latency later. */
  toPeer(sn: number, to: PeerId, msg: SupernodeToPeer): void {
    const { sim, supernodes } = this.run;
    const host = hostOf(to);
    const input: PeerInput = { kind: 'supernode-message', from: supernodes.addrs[sn], msg };
    this.deliverToPeer(host, sim.messageDelayMs(sim.supernodeNodes[sn], sim.hostNode(host)), input);
  }

  /** Hand `input` to host's peer after `delayMs` (a failed fetch's news travelling back, say). */
  deliverToPeer(host: number, delayMs: number, input: PeerInput): void {
    this.run.sim.post(this.run.sim.nowMs + delayMs, this.peerInputEvent, input, host);
  }

  /** An answer to supernode sn after `delayMs` (its disk, or a peer it asked). */
  answerAfter(sn: number, delayMs: number, input: SupernodeInput): void {
    this.run.sim.post(this.run.sim.nowMs + delayMs, this.supernodeInputEvent, input, sn);
  }

  /** The origin's answer to supernode sn's request, one round trip after it was asked. */
  originAnswer(sn: number, input: SupernodeInput): void {
    const sim = this.run.sim;
    sim.post(sim.nowMs + 2 * sim.latencyMs(sim.supernodeNodes[sn], sim.originNode), this.supernodeInputEvent, input, sn);
  }

  /** Host crashed: every living supernode hears its connection close. */
  peerGone(host: number): void {
    const { sim, supernodes } = this.run;
    for (let sn = 0; sn < supernodes.addrs.length; sn++) {
      if (supernodes.isDead(sn)) continue;
      const delayMs = sim.latencyMs(sim.hostNode(host), sim.supernodeNodes[sn]);
      sim.post(sim.nowMs + delayMs, this.supernodeInputEvent, { kind: 'peer-gone', peerId: hostId(host) } satisfies SupernodeInput, sn);
    }
  }

  /** Host's connection to supernode sn failed: it hears so one latency later. */
  supernodeDown(host: number, sn: number): void {
    const { sim, supernodes } = this.run;
    if (sim.crashed[host]) return;
    this.deliverToPeer(host, sim.latencyMs(sim.supernodeNodes[sn], sim.hostNode(host)), { kind: 'supernode-down', supernode: supernodes.addrs[sn] });
  }

  private onPeerMessage(slot: number): void {
    const target = this.run.sim.targetOf(slot);
    const msg = this.run.sim.take<PeerToSupernode>(slot);
    const sn = target >> 20;
    const host = target & MAX_HOSTS;
    if (this.run.supernodes.isDead(sn)) return this.supernodeDown(host, sn);
    this.run.supernodes.apply(sn, { kind: 'peer-message', from: hostId(host), msg });
  }

  private onSupernodeInput(slot: number): void {
    const sn = this.run.sim.targetOf(slot);
    this.run.supernodes.apply(sn, this.run.sim.take<SupernodeInput>(slot));
  }

  private onPeerInput(slot: number): void {
    const host = this.run.sim.targetOf(slot);
    this.run.hosts.applyPeer(host, this.run.sim.take<PeerInput>(slot));
  }
}
