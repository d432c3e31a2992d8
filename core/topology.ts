/**
 * Where peers say they are, and how close two of them are: topology awareness for choosing a
 * source, after Dragonfly 2's parent scoring (the same IDC first, then the longest common prefix
 * of the location).
 *
 * A peer declares (dfget/dfdaemon `--idc`, `--location`; the simulator from its scenario's
 * topology) an IDC name and a location: a path of `|`-separated parts from the widest to the
 * narrowest, e.g. `cn-east|hz|rack-12`. Names compare without regard to case; an empty or absent
 * field says nothing. Only the first MAX_LOCATION_PARTS parts count, as in Dragonfly 2.
 *
 * closeness(a, b) = (same IDC ? MAX_LOCATION_PARTS + 1 : 0) + number of leading location parts
 * they share. Any IDC match outranks any location match, and the score is 0 when either peer
 * declared nothing: topology then changes no decision. Names are interned to small numbers once,
 * at registration, so comparing two peers allocates nothing.
 *
 * The separator is the managing node's (supernode-choice.ts), so one `--location` serves both.
 */
import { LOCATION_SEPARATOR } from './supernode-choice.ts';

export const MAX_LOCATION_PARTS = 5;

/** What a peer declared; both optional. */
export interface Placement {
  idc?: string;
  location?: string;
}

const NONE = -1;

export class Placements {
  private readonly names = new Map<string, number>();
  private readonly idcOf: number[] = [];
  private readonly pathOf: Int32Array[] = [];
  private readonly empty = new Int32Array(0);

  /** Record the next peer's placement (peers are added in index order); returns its index. */
  add(placement: Placement = {}): number {
    const idc = placement.idc ? this.intern(placement.idc) : NONE;
    const parts = placement.location ? placement.location.split(LOCATION_SEPARATOR, MAX_LOCATION_PARTS) : [];
    let length = 0;
    while (length < parts.length && parts[length] !== '') length++;
    const path = length === 0 ? this.empty : Int32Array.from(parts.slice(0, length), (part) => this.intern(part));
    this.idcOf.push(idc);
    this.pathOf.push(path);
    return this.idcOf.length - 1;
  }

  /** How close peer b is to peer a (symmetric); 0 when either declared nothing. */
  closeness(a: number, b: number): number {
    const idcA = this.idcOf[a];
    let score = idcA !== NONE && idcA === this.idcOf[b] ? MAX_LOCATION_PARTS + 1 : 0;
    const pa = this.pathOf[a];
    const pb = this.pathOf[b];
    const n = Math.min(pa.length, pb.length);
    for (let i = 0; i < n && pa[i] === pb[i]; i++) score++;
    return score;
  }

  /** The best closeness any peer could have to `a`: the same IDC and the whole location. */
  closest(a: number): number {
    return (this.idcOf[a] !== NONE ? MAX_LOCATION_PARTS + 1 : 0) + this.pathOf[a].length;
  }

  private intern(name: string): number {
    const key = name.toLowerCase();
    let id = this.names.get(key);
    if (id === undefined) {
      id = this.names.size;
      this.names.set(key, id);
    }
    return id;
  }
}
