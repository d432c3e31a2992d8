/**
 * Where nodes sit (IDC -> rack -> host) and the one-way latency between two of them.
 *
 * Defaults: same rack 0.2 ms, same IDC 0.5 ms, across IDCs 20 ms (typical intra-rack switch
 * hop, intra-datacentre fabric, and a regional WAN link). Hosts are dealt round-robin over all
 * racks, so rack r of IDC d holds hosts i with i mod (idcs * racksPerIdc) = d * racksPerIdc + r.
 * The origin and the supernodes each sit in a rack of their own in their IDC. Unless the
 * scenario says `declared: false`, each host declares its IDC and rack to its supernode.
 */
export interface TopologySpec {
  idcs: number;
  racksPerIdc: number;
  sameRackMs: number;
  sameIdcMs: number;
  crossIdcMs: number;
  /**
   * Hosts tell their supernode where they are (`idc<d>`, location `idc<d>|rack<r>`), as dfget's
   * `--idc`/`--location` do, so the scheduler can prefer near sources (core/topology.ts).
   */
  declared: boolean;
}

export const DEFAULT_TOPOLOGY: Readonly<TopologySpec> = Object.freeze({
  idcs: 1,
  racksPerIdc: 10,
  sameRackMs: 0.2,
  sameIdcMs: 0.5,
  crossIdcMs: 20,
  declared: true,
});

export class Topology {
  private idcOf: number[] = [];
  private rackOf: number[] = [];
  private nextPrivateRack: number;

  constructor(readonly spec: TopologySpec) {
    this.nextPrivateRack = spec.idcs * spec.racksPerIdc;
  }

  /** Place the next host (round-robin over every rack). */
  placeHost(hostIndex: number): void {
    const { idc, rack } = hostRack(this.spec, hostIndex);
    this.idcOf.push(idc);
    this.rackOf.push(rack);
  }

  /** Place a server (origin, supernode) in a rack of its own in `idc`. */
  placeServer(idc: number): void {
    if (!Number.isInteger(idc) || idc < 0 || idc >= this.spec.idcs) throw new Error(`idc ${idc} outside 0..${this.spec.idcs - 1}`);
    this.idcOf.push(idc);
    this.rackOf.push(this.nextPrivateRack++);
  }

  get nodeCount(): number { return this.idcOf.length; }

  latencyMs(a: number, b: number): number {
    if (a === b) return 0;
    if (this.rackOf[a] === this.rackOf[b]) return this.spec.sameRackMs;
    if (this.idcOf[a] === this.idcOf[b]) return this.spec.sameIdcMs;
    return this.spec.crossIdcMs;
  }

  idc(node: number): number { return this.idcOf[node]; }

  /** What a host at `node` declares at registration (nothing when the scenario turns it off). */
  placementOf(node: number): Placement {
    return declaredPlacement(this.spec, this.idcOf[node], this.rackOf[node]);
  }
}

/** A host's declaration: dfget's `--idc` and `--location`. */
export interface Placement { idc?: string; location?: string }

/** The rack (numbered across IDCs) and IDC that host `hostIndex` is dealt to (round-robin over every rack). */
export function hostRack(spec: TopologySpec, hostIndex: number): { idc: number; rack: number } {
  const rack = hostIndex % (spec.idcs * spec.racksPerIdc);
  return { idc: Math.floor(rack / spec.racksPerIdc), rack };
}

/**
 * What a host in `idc` and `rack` declares (`idc<d>`, `idc<d>|rack<r>`), or nothing when the
 * scenario says `declared: false`. The calibration testbed passes the same to each live dfget.
 */
export function declaredPlacement(spec: TopologySpec, idc: number, rack: number): Placement {
  if (!spec.declared) return {};
  return { idc: `idc${idc}`, location: `idc${idc}|rack${rack}` };
}
