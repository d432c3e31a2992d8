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
import { configOrThrow } from '../../core/config.ts';
import type { Rng } from '../../core/rng.ts';
import { randomInt } from '../../core/rng.ts';
import { planPieces, pieceBytes } from '../../core/pieces.ts';
import { Simulation, type RunHooks } from '../engine.ts';
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

export function runBittorrent(world: World, hooks: RunHooks): { sim: Simulation; counters: BittorrentCounters } {
  const sim = new Simulation(world, hooks);
  const s = world.scenario;
  const bt = s.bittorrent;
  const plan = planPieces(s.fileSizeBytes, configOrThrow(s.core).pieceSizeBytes);
  const P = plan.pieceCount;
  const N = s.hostCount;
  const counters: BittorrentCounters = { corruptPieces: 0, cutTransfers: 0 };
  const trackerRng = childRng(s.seed, 'bittorrent/tracker');
  const parts: Participant[] = [];
  const arrived: number[] = [0];
  /** In-flight piece per connection, keyed uploader * (N + 1) + downloader. */
  const inflight = new Map<number, { piece: number; flowId: number }>();
  const key = (up: number, down: number) => up * (N + 1) + down;
  const nodeOf = (p: number) => (p === 0 ? sim.originNode : sim.hostNode(p - 1));
  const partOf = (node: number) => (node === sim.originNode ? 0 : sim.nodeHost(node) + 1);

  const makeParticipant = (p: number): Participant => ({
    have: new Bitset(P), fetching: new Bitset(P), availability: new Uint16Array(P), neighbours: new Set(),
    unchoked: new Set(), optimistic: -1, receivedFrom: new Map(), serving: true, dead: false, rechokes: 0,
    rng: childRng(s.seed, `bittorrent/${p}`),
  });
  parts.push(makeParticipant(0));
  for (let i = 0; i < P; i++) parts[0].have.add(i);

  const interested = (down: number, up: number): boolean => {
    const d = parts[down];
    const u = parts[up];
    if (!d || d.dead || d.have.full || !u.serving) return false;
    const dw = d.have.words;
    const uw = u.have.words;
    for (let w = 0; w < uw.length; w++) if ((uw[w] & ~dw[w]) !== 0) return true;
    return false;
  };

  const request = (up: number, down: number) => {
    const u = parts[up];
    const d = parts[down];
    if (d.dead || u.dead || !u.serving || !u.unchoked.has(down) || inflight.has(key(up, down))) return;
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
    const flowId = sim.network.startFlow(sim.nowMs, nodeOf(up), nodeOf(down), pieceBytes(plan, best), 0, 0);
    inflight.set(key(up, down), { piece: best, flowId });
  };

  const unchoke = (up: number, down: number) => {
    parts[up].unchoked.add(down);
    const delayMs = sim.latencyMs(nodeOf(up), nodeOf(down));
    sim.post(sim.nowMs + delayMs, REQUEST, [up, down]);
  };

  /** Give a free upload slot at once to a neighbour that just became interested. */
  const offerSlot = (up: number, down: number) => {
    const u = parts[up];
    if (u.unchoked.has(down) || u.unchoked.size >= bt.uploadSlots + bt.optimisticSlots) return;
    if (interested(down, up)) unchoke(up, down);
  };

  const REQUEST = sim.on((slot) => {
    const [up, down] = sim.take<[number, number]>(slot);
    request(up, down);
  });

  const RECHOKE = sim.on((p) => {
    const u = parts[p];
    if (u.dead) return;
    u.rechokes++;
    const candidates = [...u.neighbours].filter((n) => interested(n, p));
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
      else unchoke(p, n);
    }
    u.receivedFrom.clear();
    sim.at(sim.nowMs + bt.rechokeMs, RECHOKE, p);
  });

  const ARRIVE = sim.on((host) => {
    if (sim.crashed[host]) return;
    const p = host + 1;
    const me = parts[p];
    const wanted = Math.min(bt.peersPerHost, arrived.length);
    const picked = new Set<number>();
    for (let tries = 0; picked.size < wanted && tries < 4 * wanted + 10; tries++) {
      const other = arrived[randomInt(trackerRng, arrived.length)];
      if (!parts[other].dead && parts[other].neighbours.size < bt.peersPerHost + EXTRA_INCOMING) picked.add(other);
    }
    arrived.push(p);
    for (const other of picked) {
      me.neighbours.add(other);
      parts[other].neighbours.add(p);
      for (const i of parts[other].have.toArray()) me.availability[i]++;
      offerSlot(other, p);
    }
    sim.at(sim.nowMs + bt.rechokeMs * (0.5 + me.rng.next()), RECHOKE, p);
  });

  const CRASH = sim.on((host) => {
    const p = host + 1;
    const me = parts[p];
    if (me.dead) return;
    me.dead = true;
    sim.hostCrashed(host);
    for (const n of me.neighbours) {
      parts[n].neighbours.delete(p);
      parts[n].unchoked.delete(p);
      for (const i of me.have.toArray()) parts[n].availability[i]--;
      for (const [up, down] of [[p, n], [n, p]]) {
        const flight = inflight.get(key(up, down));
        if (!flight) continue;
        inflight.delete(key(up, down));
        sim.network.cancelFlow(sim.nowMs, flight.flowId);
        parts[down].fetching.delete(flight.piece);
        counters.cutTransfers++;
        if (down === n) for (const other of parts[n].neighbours) request(other, n);
      }
    }
  });

  const STOP_SERVING = sim.on((host) => { parts[host + 1].serving = false; parts[host + 1].unchoked.clear(); });

  sim.onFlowDone = (_flowId, _tag, src, dst, sizeBytes) => {
    const up = partOf(src);
    const down = partOf(dst);
    const flight = inflight.get(key(up, down))!;
    inflight.delete(key(up, down));
    const d = parts[down];
    d.fetching.delete(flight.piece);
    if (up > 0 && world.faults[up - 1].corrupt) {
      counters.corruptPieces++;
      d.neighbours.delete(up);
      parts[up].neighbours.delete(down);
      parts[up].unchoked.delete(down);
      for (const i of parts[up].have.toArray()) d.availability[i]--;
      for (const other of d.neighbours) request(other, down);
      return;
    }
    d.receivedFrom.set(up, (d.receivedFrom.get(up) ?? 0) + sizeBytes);
    d.have.add(flight.piece);
    for (const n of d.neighbours) {
      const neighbour = parts[n];
      neighbour.availability[flight.piece]++;
      if (!neighbour.have.has(flight.piece)) {
        offerSlot(down, n);
        request(down, n);
      }
    }
    if (d.have.full) sim.hostFinished(down - 1);
    else request(up, down);
  };

  for (let h = 0; h < N; h++) {
    parts.push(makeParticipant(h + 1));
    sim.at(world.arrivalMs[h], ARRIVE, h);
    const f = world.faults[h];
    if (f.crashAtMs !== Infinity) sim.at(f.crashAtMs, CRASH, h);
    if (f.deleteCacheAtMs !== Infinity) sim.at(f.deleteCacheAtMs, STOP_SERVING, h);
  }
  sim.at(bt.rechokeMs, RECHOKE, 0);
  return { sim, counters };
}
