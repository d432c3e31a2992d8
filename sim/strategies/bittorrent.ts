/**
 * `bittorrent`: a baseline swarm with no central scheduler, modelled in sim/ (no core machine).
 *
 * Theory of operation. Participant 0 is the origin, the initial seed; participants 1..N are the
 * hosts. On arrival a host asks the tracker for `peersPerHost` random participants that have
 * already arrived and connects to them (connections are two-way; a participant accepts at
 * most peersPerHost + 30). Every participant knows its neighbours' pieces (have messages are
 * taken as instant) and keeps, per piece, how many neighbours hold it.
 *
 * Uploading: a participant unchokes `uploadSlots` interested neighbours plus `optimisticSlots`
 * optimistic ones. Every `rechokeMs` it re-picks the regular slots: a downloader keeps those
 * that sent it the most bytes in the last period (tit-for-tat), a seed rotates at random; every
 * `optimisticMs` the optimistic slot moves to a random interested neighbour. Between rechokes a
 * free slot is given at once to a neighbour that becomes interested (as real clients do).
 * Downloading: over each connection where it is unchoked, a participant keeps one piece
 * request in flight, choosing the locally rarest piece the uploader has and it lacks and is not
 * already fetching. A piece is one flow; a choke lets the flow in progress finish.
 *
 * Faults: a crashed host's connections are cut (pieces in flight are lost and re-requested
 * elsewhere); a corrupt uploader's pieces fail the hash check, are discarded and the uploader is
 * dropped by the receiver; a deleted cache stops a host serving; slow peers are in capacities.
 */
import { Bitset } from '../../core/bitset.ts';
import type { Rng } from '../../core/rng.ts';
import { randomInt } from '../../core/rng.ts';
import { planPieces, pieceBytes, type PiecePlan } from '../../core/pieces.ts';
import { Simulation, type RunHooks } from '../engine.ts';
import type { BittorrentSpec } from '../scenario.ts';
import { childRng } from '../seeded-rng.ts';
import type { World } from '../world.ts';

const EXTRA_INCOMING = 30;

interface Participant {
  have: Bitset;
  fetching: Bitset;
  /** Neighbours holding each piece. */
  availability: Uint16Array;
  neighbours: Set<number>;
  unchoked: Set<number>;
  optimistic: number;
  /** Bytes received from each neighbour since the last rechoke. */
  receivedFrom: Map<number, number>;
  serving: boolean;
  dead: boolean;
  rechokes: number;
  rng: Rng;
}

export interface BittorrentCounters { corruptPieces: number; cutTransfers: number }

export class BittorrentSwarm {
  readonly sim: Simulation;
  readonly counters: BittorrentCounters = { corruptPieces: 0, cutTransfers: 0 };
  private readonly bt: BittorrentSpec;
  private readonly plan: PiecePlan;
  private readonly trackerRng: Rng;
  /** Participant 0 is the origin, participant h + 1 is host h. */
  private readonly parts: Participant[] = [];
  private readonly arrived: number[] = [0];
  /** In-flight piece per connection, keyed uploader * (N + 1) + downloader. */
  private readonly inflight = new Map<number, { piece: number; flowId: number }>();
  private readonly requestEvent: number;
  private readonly rechokeEvent: number;

  constructor(private readonly world: World, hooks: RunHooks) {
    const s = world.scenario;
    this.sim = new Simulation(world, hooks);
    this.bt = s.bittorrent;
    // The piece plan dragonfly's supernode makes for this scenario: both strategies move the same pieces.
    this.plan = planPieces(s.fileSizeBytes, s.core.pieceSizeBytes);
    this.trackerRng = childRng(s.seed, 'bittorrent/tracker');
    this.parts.push(this.participant(0));
    for (let i = 0; i < this.plan.pieceCount; i++) this.parts[0].have.add(i);
    this.requestEvent = this.sim.on('request', (slot) => {
      const [up, down] = this.sim.take<[number, number]>(slot);
      this.request(up, down);
    });
    this.rechokeEvent = this.sim.on('rechoke', (p) => this.rechoke(p));
    const arriveEvent = this.sim.on('arrive', (host) => this.arrive(host));
    const crashEvent = this.sim.on('crash', (host) => this.crash(host));
    const stopServingEvent = this.sim.on('stop-serving', (host) => { this.parts[host + 1].serving = false; this.parts[host + 1].unchoked.clear(); });
    this.sim.onFlowDone = (_flowId, _tag, src, dst, sizeBytes) => this.pieceDone(this.partOf(src), this.partOf(dst), sizeBytes);
    for (let h = 0; h < s.hostCount; h++) {
      this.parts.push(this.participant(h + 1));
      this.sim.at(world.arrivalMs[h], arriveEvent, h);
      const f = world.faults[h];
      if (f.crashAtMs !== Infinity) this.sim.at(f.crashAtMs, crashEvent, h);
      if (f.deleteCacheAtMs !== Infinity) this.sim.at(f.deleteCacheAtMs, stopServingEvent, h);
    }
    this.sim.at(this.bt.rechokeMs, this.rechokeEvent, 0);
  }

  private participant(p: number): Participant {
    const P = this.plan.pieceCount;
    return {
      have: new Bitset(P), fetching: new Bitset(P), availability: new Uint16Array(P), neighbours: new Set(),
      unchoked: new Set(), optimistic: -1, receivedFrom: new Map(), serving: true, dead: false, rechokes: 0,
      rng: childRng(this.world.scenario.seed, `bittorrent/${p}`),
    };
  }

  private key(up: number, down: number): number { return up * (this.world.scenario.hostCount + 1) + down; }
  private nodeOf(p: number): number { return p === 0 ? this.sim.originNode : this.sim.hostNode(p - 1); }
  private partOf(node: number): number { return node === this.sim.originNode ? 0 : this.sim.nodeHost(node) + 1; }

  /** Does `down` want a piece `up` has? */
  private interested(down: number, up: number): boolean {
    const d = this.parts[down];
    const u = this.parts[up];
    if (!d || d.dead || d.have.full || !u.serving) return false;
    const dw = d.have.words;
    const uw = u.have.words;
    for (let w = 0; w < uw.length; w++) if ((uw[w] & ~dw[w]) !== 0) return true;
    return false;
  }

  /** Over an unchoked connection with nothing in flight, `down` requests its locally rarest piece from `up`. */
  private request(up: number, down: number): void {
    const u = this.parts[up];
    const d = this.parts[down];
    if (d.dead || u.dead || !u.serving || !u.unchoked.has(down) || this.inflight.has(this.key(up, down))) return;
    const P = this.plan.pieceCount;
    let best = -1;
    let bestCount = Infinity;
    const offset = randomInt(d.rng, P);
    for (let k = 0; k < P; k++) {
      const i = (k + offset) % P;
      if (!u.have.has(i) || d.have.has(i) || d.fetching.has(i)) continue;
      if (d.availability[i] < bestCount) { best = i; bestCount = d.availability[i]; }
    }
    if (best < 0) return;
    d.fetching.add(best);
    const flowId = this.sim.network.startFlow(this.sim.nowMs, this.nodeOf(up), this.nodeOf(down), pieceBytes(this.plan, best), 0, 0);
    this.inflight.set(this.key(up, down), { piece: best, flowId });
  }

  private unchoke(up: number, down: number): void {
    this.parts[up].unchoked.add(down);
    const delayMs = this.sim.latencyMs(this.nodeOf(up), this.nodeOf(down));
    this.sim.post(this.sim.nowMs + delayMs, this.requestEvent, [up, down]);
  }

  /** Give a free upload slot at once to a neighbour that just became interested. */
  private offerSlot(up: number, down: number): void {
    const u = this.parts[up];
    if (u.unchoked.has(down) || u.unchoked.size >= this.bt.uploadSlots + this.bt.optimisticSlots) return;
    if (this.interested(down, up)) this.unchoke(up, down);
  }

  /** Re-pick the regular slots by bytes received (a seed: at random) and, now and then, the optimistic one. */
  private rechoke(p: number): void {
    const u = this.parts[p];
    if (u.dead) return;
    const bt = this.bt;
    u.rechokes++;
    const candidates = [...u.neighbours].filter((n) => this.interested(n, p));
    const seeding = u.have.full;
    const score = (n: number) => (seeding ? u.rng.next() : (u.receivedFrom.get(n) ?? 0) + u.rng.next());
    const scored = candidates.map((n) => ({ n, score: score(n) })).sort((a, b) => b.score - a.score);
    const regular = new Set(scored.slice(0, bt.uploadSlots).map((c) => c.n));
    if (u.rechokes % Math.max(1, Math.round(bt.optimisticMs / bt.rechokeMs)) === 1 || !candidates.includes(u.optimistic)) {
      const rest = candidates.filter((n) => !regular.has(n));
      u.optimistic = rest.length > 0 ? rest[randomInt(u.rng, rest.length)] : -1;
    }
    const next = new Set(regular);
    if (bt.optimisticSlots > 0 && u.optimistic >= 0) next.add(u.optimistic);
    const previous = u.unchoked;
    u.unchoked = new Set();
    for (const n of next) {
      if (previous.has(n)) u.unchoked.add(n);
      else this.unchoke(p, n);
    }
    u.receivedFrom.clear();
    this.sim.at(this.sim.nowMs + bt.rechokeMs, this.rechokeEvent, p);
  }

  /** The tracker hands the new host random participants that have arrived; it connects to them. */
  private arrive(host: number): void {
    if (this.sim.crashed[host]) return;
    const p = host + 1;
    const me = this.parts[p];
    const wanted = Math.min(this.bt.peersPerHost, this.arrived.length);
    const picked = new Set<number>();
    for (let tries = 0; picked.size < wanted && tries < 4 * wanted + 10; tries++) {
      const other = this.arrived[randomInt(this.trackerRng, this.arrived.length)];
      if (!this.parts[other].dead && this.parts[other].neighbours.size < this.bt.peersPerHost + EXTRA_INCOMING) picked.add(other);
    }
    this.arrived.push(p);
    for (const other of picked) {
      me.neighbours.add(other);
      this.parts[other].neighbours.add(p);
      for (const i of this.parts[other].have.toArray()) me.availability[i]++;
      this.offerSlot(other, p);
    }
    this.sim.at(this.sim.nowMs + this.bt.rechokeMs * (0.5 + me.rng.next()), this.rechokeEvent, p);
  }

  /** A crashed host's connections are cut; pieces in flight to its neighbours are asked for elsewhere. */
  private crash(host: number): void {
    const p = host + 1;
    const me = this.parts[p];
    if (me.dead) return;
    me.dead = true;
    this.sim.hostCrashed(host);
    for (const n of me.neighbours) {
      const neighbour = this.parts[n];
      neighbour.neighbours.delete(p);
      neighbour.unchoked.delete(p);
      for (const i of me.have.toArray()) neighbour.availability[i]--;
      for (const [up, down] of [[p, n], [n, p]]) {
        const flight = this.inflight.get(this.key(up, down));
        if (!flight) continue;
        this.inflight.delete(this.key(up, down));
        this.sim.network.cancelFlow(this.sim.nowMs, flight.flowId);
        this.parts[down].fetching.delete(flight.piece);
        this.counters.cutTransfers++;
        if (down === n) for (const other of neighbour.neighbours) this.request(other, n);
      }
    }
  }

  /** A piece arrived over up -> down: a corrupt one gets the uploader dropped; a good one is announced. */
  private pieceDone(up: number, down: number, sizeBytes: number): void {
    const flight = this.inflight.get(this.key(up, down))!;
    this.inflight.delete(this.key(up, down));
    const d = this.parts[down];
    d.fetching.delete(flight.piece);
    if (up > 0 && this.world.faults[up - 1].corrupt) {
      this.counters.corruptPieces++;
      d.neighbours.delete(up);
      this.parts[up].neighbours.delete(down);
      this.parts[up].unchoked.delete(down);
      for (const i of this.parts[up].have.toArray()) d.availability[i]--;
      for (const other of d.neighbours) this.request(other, down);
      return;
    }
    d.receivedFrom.set(up, (d.receivedFrom.get(up) ?? 0) + sizeBytes);
    d.have.add(flight.piece);
    for (const n of d.neighbours) {
      const neighbour = this.parts[n];
      neighbour.availability[flight.piece]++;
      if (!neighbour.have.has(flight.piece)) {
        this.offerSlot(down, n);
        this.request(down, n);
      }
    }
    if (d.have.full) this.sim.hostFinished(down - 1);
    else this.request(up, down);
  }
}

export function runBittorrent(world: World, hooks: RunHooks): BittorrentSwarm {
  return new BittorrentSwarm(world, hooks);
}
