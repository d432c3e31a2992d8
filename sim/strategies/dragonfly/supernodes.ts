/**
 * The supernodes of a dragonfly run: each one a core `Supernode` (tasks, scheduling, blacklists)
 * and the core `Uploader` that serves its CDN cache as a special peer, both in the driver runtime
 * (machines.ts), run with the scenario's settings (`world.supernodeConfig`) as a real supernode
 * runs with its flags. The supernode hands the peer-side part of them to every peer in
 * `task-info`; nothing else in the run gives peers settings.
 *
 * This file carries out a supernode's effects: messages to peers go through control.ts, CDN work
 * to cdn.ts. The simulated origin never changes and lets everyone read it, so a revalidation is
 * answered "unchanged" and a credential check "allowed", each one origin round trip later.
 *
 * Grants leave signed with the supernode's structural key (grants.ts), and task-info carries the
 * key. The simulated cache never rots, so a `cdn-verify-piece` is answered intact at once. A
 * `probe-peer` is answered one round trip to the peer later, by what a real fetch would find:
 * served when the peer is alive, its uploader holds the piece and it is not a corrupt uploader,
 * else failed (the probe's bytes are not modelled as a flow).
 */
import { SUPERNODE } from '../../../core/protocol.ts';
import type { MachineHost } from '../../../core/runtime.ts';
import { supernodeUploaderConfig } from '../../../core/settings.ts';
import { Supernode, type SupernodeStats } from '../../../core/supernode.ts';
import type { SupernodeEffect, SupernodeInput } from '../../../core/supernode-io.ts';
import { Uploader, type UploaderEffect, type UploaderInput } from '../../../core/uploader.ts';
import { childRng } from '../../seeded-rng.ts';
import type { DragonflyRun } from './run.ts';
import { hostOf } from './control.ts';
import { signGrant, supernodeKeyOf } from './grants.ts';
import { TASK_ID } from './task.ts';
import type { SupernodeToPeer } from '../../../core/protocol.ts';

/** A message as it leaves supernode sn: its grant signed, task-info carrying the key. */
function stamped(sn: number, msg: SupernodeToPeer): SupernodeToPeer {
  const key = supernodeKeyOf(sn);
  if (msg.kind === 'task-info') return { ...msg, supernodeKey: key, ...(msg.grant ? { grant: signGrant(key, msg.grant) } : {}) };
  if (msg.kind === 'assign' && msg.grant) return { ...msg, grant: signGrant(key, msg.grant) };
  return msg;
}

export class Supernodes {
  /** Addresses peers know the supernodes by, in failover order. */
  readonly addrs: string[] = [];
  private readonly machines: MachineHost<SupernodeInput, SupernodeEffect>[] = [];
  private readonly uploaders: MachineHost<UploaderInput, UploaderEffect>[] = [];
  private readonly uploaderMachines: Uploader[] = [];
  private readonly supernodeMachines: Supernode[] = [];
  private readonly dead: Uint8Array;
  private readonly ownKeys: ReadonlySet<string>[] = [];

  /** Supernode sn runs in machine slot sn, its uploader in slot count + sn. */
  constructor(private readonly run: DragonflyRun) {
    const { sim, world, machines } = run;
    const count = world.scenario.supernodeCount;
    this.dead = new Uint8Array(count);
    for (let sn = 0; sn < count; sn++) {
      const addr = `sn${sn}`;
      const node = sim.supernodeNodes[sn];
      this.addrs.push(addr);
      const supernode = new Supernode(world.supernodeConfig, childRng(world.scenario.seed, `supernode/${sn}`), world.supernodeUpBps);
      this.supernodeMachines.push(supernode);
      this.ownKeys.push(new Set([supernodeKeyOf(sn)]));
      this.machines.push(machines.host(sn, `supernode ${addr}`, supernode, (effect) => this.onEffect(sn, effect)));
      const uploader = new Uploader(supernodeUploaderConfig(world.supernodeConfig));
      this.uploaderMachines.push(uploader);
      this.uploaders.push(machines.host(count + sn, `uploader of ${addr}`, uploader, (effect) => run.dataPlane.onUploaderEffect(node, effect)));
    }
  }

  /** Supernode sn's uploader machine, for tests. */
  uploader(sn: number): Uploader { return this.uploaderMachines[sn]; }
  /** Supernode sn's scheduling machine, for invariant checkers (blacklists). */
  machine(sn: number): Supernode { return this.supernodeMachines[sn]; }
  /** The keys supernode sn's own uploader accepts grants of: its own. */
  trustedKeys(sn: number): ReadonlySet<string> { return this.ownKeys[sn]; }
  /** Supernode sn's counters (tasks, peers, blacklists), as a real supernode's /metrics shows them. */
  stats(sn: number): SupernodeStats { return this.supernodeMachines[sn].stats(); }

  apply(sn: number, input: SupernodeInput): void { this.machines[sn].apply(input); }
  applyUploader(sn: number, input: UploaderInput): void { this.uploaders[sn].apply(input); }
  isDead(sn: number): boolean { return this.dead[sn] === 1; }
  indexOf(addr: string): number { return this.addrs.indexOf(addr); }
  /** Supernode index of a network node (nodes are [origin, supernodes..., hosts...]). */
  indexOfNode(node: number): number { return node - this.run.sim.supernodeNodes[0]; }

  /** The supernode stops: its machines take no more input (its flows are cut by faults.ts). */
  crash(sn: number): void {
    this.dead[sn] = 1;
    this.machines[sn].close();
    this.uploaders[sn].close();
  }

  /** What the supernode's fetch of a piece from an accused peer finds, one round trip later. */
  private probe(sn: number, effect: Extract<SupernodeEffect, { kind: 'probe-peer' }>): void {
    const { sim, world, hosts, control } = this.run;
    const host = hostOf(effect.peerId);
    const served = !sim.crashed[host] && !world.faults[host].corrupt && (hosts.uploader(host)?.holds(TASK_ID, effect.piece) ?? false);
    const delayMs = 2 * sim.latencyMs(sim.supernodeNodes[sn], sim.hostNode(host));
    control.answerAfter(sn, delayMs, { kind: 'probe-result', taskId: effect.taskId, peerId: effect.peerId, outcome: served ? 'served' : 'failed' });
  }

  private onEffect(sn: number, effect: SupernodeEffect): void {
    const { control, cdn, counters } = this.run;
    switch (effect.kind) {
      case 'send':
        if (effect.msg.kind === 'assign') for (const a of effect.msg.pieces) if (a.digest === '') counters.assignmentsWithoutDigest++;
        return control.toPeer(sn, effect.to, stamped(sn, effect.msg));
      case 'cdn-verify-piece':
        return control.answerAfter(sn, 0, { kind: 'cdn-piece-intact', taskId: effect.taskId, piece: effect.piece });
      case 'probe-peer':
        return this.probe(sn, effect);
      case 'cdn-fetch':
        return cdn.fetch(sn, effect.pieceSizeBytes);
      case 'cdn-refetch-piece':
        return cdn.refetch(sn, effect.piece);
      case 'cdn-revalidate':
        return control.originAnswer(sn, { kind: 'cdn-validated', taskId: effect.taskId, changed: false });
      case 'cdn-drop':
        cdn.drop(sn);
        return this.applyUploader(sn, { kind: 'unlist-task', taskId: effect.taskId });
      case 'check-auth':
        return control.originAnswer(sn, { kind: 'auth-result', taskId: effect.taskId, peerId: effect.peerId, allowed: true });
      case 'assigned':
        if (effect.source === SUPERNODE) counters.piecesFromSupernode++;
        else counters.piecesFromPeers++;
        return;
      case 'log':
        if (effect.level === 'warn') counters.warnings++;
        return;
    }
  }
}
