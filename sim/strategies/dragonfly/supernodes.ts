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
 */
import { SUPERNODE } from '../../../core/protocol.ts';
import type { MachineHost } from '../../../core/runtime.ts';
import { supernodeUploaderConfig } from '../../../core/settings.ts';
import { Supernode } from '../../../core/supernode.ts';
import type { SupernodeEffect, SupernodeInput } from '../../../core/supernode-io.ts';
import { Uploader, type UploaderEffect, type UploaderInput } from '../../../core/uploader.ts';
import { childRng } from '../../seeded-rng.ts';
import type { DragonflyRun } from './run.ts';

export class Supernodes {
  /** Addresses peers know the supernodes by, in failover order. */
  readonly addrs: string[] = [];
  private readonly machines: MachineHost<SupernodeInput, SupernodeEffect>[] = [];
  private readonly uploaders: MachineHost<UploaderInput, UploaderEffect>[] = [];
  private readonly uploaderMachines: Uploader[] = [];
  private readonly dead: Uint8Array;

  /** Supernode sn runs in machine slot sn, its uploader in slot count + sn. */
  constructor(private readonly run: DragonflyRun) {
    const { sim, world, machines } = run;
    const count = world.scenario.supernodeCount;
    this.dead = new Uint8Array(count);
    for (let sn = 0; sn < count; sn++) {
      const addr = `sn${sn}`;
      const node = sim.supernodeNodes[sn];
      this.addrs.push(addr);
      const supernode = new Supernode(world.supernodeConfig, childRng(world.scenario.seed, `supernode/${sn}`));
      this.machines.push(machines.host(sn, `supernode ${addr}`, supernode, (effect) => this.onEffect(sn, effect)));
      const uploader = new Uploader(supernodeUploaderConfig(world.supernodeConfig));
      this.uploaderMachines.push(uploader);
      this.uploaders.push(machines.host(count + sn, `uploader of ${addr}`, uploader, (effect) => run.dataPlane.onUploaderEffect(node, effect)));
    }
  }

  /** Supernode sn's uploader machine, for tests. */
  uploader(sn: number): Uploader { return this.uploaderMachines[sn]; }

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

  private onEffect(sn: number, effect: SupernodeEffect): void {
    const { control, cdn, counters } = this.run;
    switch (effect.kind) {
      case 'send':
        if (effect.msg.kind === 'assign') for (const a of effect.msg.pieces) if (a.digest === '') counters.assignmentsWithoutDigest++;
        return control.toPeer(sn, effect.to, effect.msg);
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
