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
  private count = 0;
  /** Per peer, its IDC's interned name (NONE when undeclared). */
  private idcOf = new Int32Array(16);
  /** Per peer, how many location parts it declared, and the parts, MAX_LOCATION_PARTS slots a peer. */
  private pathLengthOf = new Uint8Array(16);
  // Flat rather than an array object per peer: closeness is asked for every holder a source scan
  // weighs, and at 10,000 peers each peer's own array was another cache miss.
  private paths = new Int32Array(16 * MAX_LOCATION_PARTS);

  /** Record the next peer's placement (peers are added in index order); returns its index. */
  add(placement: Placement = {}): number {
    const idc = placement.idc ? this.intern(placement.idc) : NONE;
    const parts = placement.location ? placement.location.split(LOCATION_SEPARATOR, MAX_LOCATION_PARTS) : [];
    let length = 0;
    while (length < parts.length && parts[length] !== '') length++;
    const index = this.count++;
    if (index === this.idcOf.length) this.grow(2 * index);
    this.idcOf[index] = idc;
    this.pathLengthOf[index] = length;
    for (let i = 0; i < length; i++) this.paths[index * MAX_LOCATION_PARTS + i] = this.intern(parts[i]);
    return index;
  }

  /** How close peer b is to peer a (symmetric); 0 when either declared nothing. */
  closeness(a: number, b: number): number {
    const idcA = this.idcOf[a];
    let score = idcA !== NONE && idcA === this.idcOf[b] ? MAX_LOCATION_PARTS + 1 : 0;
    const lengthA = this.pathLengthOf[a];
    const lengthB = this.pathLengthOf[b];
    const n = lengthA < lengthB ? lengthA : lengthB;
    const paths = this.paths;
    const pa = a * MAX_LOCATION_PARTS;
    const pb = b * MAX_LOCATION_PARTS;
    for (let i = 0; i < n && paths[pa + i] === paths[pb + i]; i++) score++;
    return score;
  }

  /** The best closeness any peer could have to `a`: the same IDC and the whole location. */
  closest(a: number): number {
    return (this.idcOf[a] !== NONE ? MAX_LOCATION_PARTS + 1 : 0) + this.pathLengthOf[a];
  }

  private grow(capacity: number): void {
    const idcOf = new Int32Array(capacity);
    idcOf.set(this.idcOf);
    const pathLengthOf = new Uint8Array(capacity);
    pathLengthOf.set(this.pathLengthOf);
    const paths = new Int32Array(capacity * MAX_LOCATION_PARTS);
    paths.set(this.paths);
    this.idcOf = idcOf;
    this.pathLengthOf = pathLengthOf;
    this.paths = paths;
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
