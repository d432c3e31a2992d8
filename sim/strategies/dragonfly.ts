/**
 * `dragonfly` and `cdn-only`: the core's Supernode, Peer and Uploader machines, unchanged,
 * driven through applyAndDrain / fireDue over the modelled network.
 *
 * Theory of operation. This file only moves bytes and time; every protocol decision is made by
 * the core machines. Control messages (register, pull, assign, wait, ...) travel one latency
 * between a host and its supernode. A `fetch-piece` becomes a data-plane `piece-request` that
 * reaches the source's Uploader one latency later; `serve` starts a flow from the source to the
 * requester after one more latency, `refuse` travels back as a failed fetch. When the flow
 * delivers its last byte the requester's Peer gets `piece-fetched` with the digest of what it
 * received — `sha256:<taskId>/<piece>`, or another string when the source is a corrupt
 * uploader — and the Peer's own verification and the supernode's blacklists do the rest. The
 * supernode's CDN fetch is a sequence of flows from the origin, one piece after another, each
 * announced (`cdn-piece`) as it lands. `cdn-only` is the same run with every peer started in
 * `pattern: 'cdn'`, so the supernode assigns it no peer sources and lists it as none.
 *
 * Faults: a crashed host or supernode drops what is addressed to it; its flows are cut, the
 * requesters see `unreachable`, supernodes see `peer-gone`, peers of a crashed supernode see
 * `supernode-down` (and migrate, by the core's rules). A deleted cache is `unlist-task` on the
 * host's Uploader. Each machine's next deadline is armed as a timer event (lazily superseded).
 */
import { configOrThrow, uploadSlotsFor } from '../../core/config.ts';
import { applyAndDrain, fireDue, type Machine } from '../../core/drive.ts';
import { Peer } from '../../core/peer.ts';
import type { PeerEffect, PeerInput } from '../../core/peer-io.ts';
import { planPieces, pieceBytes, type PiecePlan } from '../../core/pieces.ts';
import { SUPERNODE, type PeerId, type PeerToSupernode } from '../../core/protocol.ts';
import { Supernode } from '../../core/supernode.ts';
import type { SupernodeEffect, SupernodeInput } from '../../core/supernode-io.ts';
import { DEFAULT_UPLOADER, Uploader, type UploaderEffect, type UploaderInput } from '../../core/uploader.ts';
import { Bitset } from '../../core/bitset.ts';
import { Simulation, type RunHooks } from '../engine.ts';
import { childRng } from '../seeded-rng.ts';
import type { World } from '../world.ts';

/** One data-plane transfer the driver tracks: a piece fetch, a CDN piece, or a back-to-source download. */
interface Transfer {
  kind: 'piece' | 'cdn' | 'source';
  /** Requesting host (piece, source) or supernode index (cdn). */
  owner: number;
  piece: number;
  /** Source id as the core names it (PeerId or SUPERNODE). */
  source: PeerId;
  sourceNode: number;
  sizeBytes: number;
  flowId: number;
  cancelled: boolean;
}

export interface DragonflyCounters {
  piecesFromSupernode: number;
  piecesFromPeers: number;
  corruptFetches: number;
  refusedFetches: number;
  unverifiedWrites: number;
  backToSourceHosts: number;
  warnings: number;
  /** Timeouts after which a machine still asked to be woken at once (see arm()). */
  repeatedDeadlines: number;
  /** Assigned pieces whose expected digest was empty: no peer can verify them. */
  assignmentsWithoutDigest: number;
}

export const TASK_ID = 'sim-task';
const TASK = { url: 'http://origin/sim-task', headers: {} };

export function pieceDigest(piece: number): string { return `sha256:${TASK_ID}/${piece}`; }

export function runDragonfly(world: World, hooks: RunHooks, pattern: 'p2p' | 'cdn'): { sim: Simulation; counters: DragonflyCounters } {
  const sim = new Simulation(world, hooks);
  const scenario = world.scenario;
  const cfg = configOrThrow(scenario.core);
  const F = scenario.fileSizeBytes;
  const S = scenario.supernodeCount;
  const N = scenario.hostCount;
  const counters: DragonflyCounters = {
    piecesFromSupernode: 0, piecesFromPeers: 0, corruptFetches: 0, refusedFetches: 0, unverifiedWrites: 0,
    backToSourceHosts: 0, warnings: 0, repeatedDeadlines: 0, assignmentsWithoutDigest: 0,
  };
  // Control messages carry (supernode << 20 | host) in one integer.
  if (N >= 1 << 20 || S >= 1 << 10) throw new Error(`dragonfly: at most ${(1 << 20) - 1} hosts and ${(1 << 10) - 1} supernodes per run`);
  const snAddrs = Array.from({ length: S }, (_, i) => `sn${i}`);
  const supernodes = snAddrs.map((_, i) => new Supernode(cfg, childRng(scenario.seed, `supernode/${i}`)));
  const snDead = new Uint8Array(S);
  const snUploaders = snAddrs.map(() => new Uploader({ uploadLimit: cfg.supernodeUpLimit, unlistAfterMs: 0, idleExitMs: 0, maxTasks: cfg.maxTasks }));
  const cdnPlan: (PiecePlan | null)[] = new Array(S).fill(null);
  const cdnFlows: Set<number>[] = snAddrs.map(() => new Set());
  const peers: (Peer | null)[] = new Array(N).fill(null);
  const hostUploaders: (Uploader | null)[] = new Array(N).fill(null);
  const verifiedGood: (Bitset | null)[] = new Array(N).fill(null);
  /** Running piece fetch per (host, piece): transfer id. */
  const fetchOf = new Map<number, number>();
  const transfers: (Transfer | null)[] = [];
  const freeTransfers: number[] = [];

  // Machine ids for timers: [supernodes | supernode uploaders | peers | host uploaders]. A
  // host's machines exist from its arrival; a dead node's machines get no more input.
  const machineCount = 2 * S + 2 * N;
  const timerAtMs = new Float64Array(machineCount).fill(Infinity);
  const machines: (Machine<{ kind: string }, unknown> | null)[] = new Array(machineCount).fill(null);
  const sinks: ((e: unknown) => void)[] = new Array(machineCount);
  const dead = new Uint8Array(machineCount);
  let firing = -1;

  const arm = (m: number) => {
    const machine = machines[m];
    let deadline = machine?.nextDeadlineMs() ?? null;
    if (deadline === null || deadline >= timerAtMs[m]) return;
    if (deadline <= sim.nowMs && firing === m) {
      // The machine took its timeout and still asks for one now: a core bug (once, a deadline
      // armed as a + b but tested as now - a >= b). Wake it a microsecond later rather than spin
      // at one instant; the count fails the run's checks (sim/checks.ts) with its seed.
      counters.repeatedDeadlines++;
      deadline = sim.nowMs + 0.001;
    }
    timerAtMs[m] = deadline;
    sim.at(deadline, TIMER, m);
  };
  const apply = <I>(m: number, input: I) => {
    const machine = machines[m];
    if (!machine || dead[m] === 1) return;
    applyAndDrain(machine as unknown as Machine<I, unknown>, sim.nowMs, input, sinks[m]);
    arm(m);
  };

  const newTransfer = (t: Transfer): number => {
    const id = freeTransfers.pop() ?? transfers.length;
    transfers[id] = t;
    return id;
  };
  const endTransfer = (id: number) => {
    const t = transfers[id]!;
    if (t.kind === 'piece') {
      const key = t.owner * 65536 + t.piece;
      if (fetchOf.get(key) === id) fetchOf.delete(key);
    }
    transfers[id] = null;
    freeTransfers.push(id);
  };
  const hostIndex = (id: PeerId): number => Number(id.slice(1));
  const snIndex = (addr: string): number => snAddrs.indexOf(addr);

  // ---- events ----
  const TIMER = sim.on((m) => {
    if (sim.nowMs !== timerAtMs[m]) return;
    timerAtMs[m] = Infinity;
    const machine = machines[m];
    if (!machine || dead[m] === 1) return;
    firing = m;
    fireDue(machine, sim.nowMs, sinks[m]);
    arm(m);
    firing = -1;
  });
  const TO_SUPERNODE = sim.on((slot) => {
    const from = sim.targetOf(slot);
    const msg = sim.take<PeerToSupernode>(slot);
    const sn = from >> 20;
    const host = from & 0xfffff;
    if (snDead[sn]) {
      notifySupernodeDown(host, sn);
      return;
    }
    apply<SupernodeInput>(sn, { kind: 'peer-message', from: `h${host}`, msg });
  });
  const TO_SUPERNODE_EVENT = sim.on((slot) => {
    const sn = sim.targetOf(slot);
    const input = sim.take<SupernodeInput>(slot);
    apply<SupernodeInput>(sn, input);
  });
  const TO_PEER = sim.on((slot) => {
    const host = sim.targetOf(slot);
    const input = sim.take<PeerInput>(slot);
    apply<PeerInput>(2 * S + host, input);
  });
  const TO_UPLOADER = sim.on((id) => {
    const t = transfers[id]!;
    if (t.cancelled) return endTransfer(id);
    const m = t.source === SUPERNODE ? S + (t.sourceNode - 1) : 2 * S + N + sim.nodeHost(t.sourceNode);
    if (dead[m] === 1) return failFetch(id, 'unreachable', sim.latencyMs(t.sourceNode, sim.hostNode(t.owner)));
    apply<UploaderInput>(m, { kind: 'piece-request', from: `h${t.owner}`, requestId: id, taskId: TASK_ID, piece: t.piece });
  });
  const START_FLOW = sim.on((id) => {
    const t = transfers[id]!;
    const sourceDead = t.kind === 'piece' && (t.source === SUPERNODE ? snDead[t.sourceNode - 1] : sim.crashed[sim.nodeHost(t.sourceNode)]);
    const ownerDead = t.kind === 'cdn' ? snDead[t.owner] : sim.crashed[t.owner];
    if (t.cancelled || ownerDead) {
      if (t.kind === 'piece' && !sourceDead) uploadFinished(t, id);
      return endTransfer(id);
    }
    if (sourceDead) return failFetch(id, 'unreachable', 0);
    const dst = t.kind === 'cdn' ? sim.supernodeNodes[t.owner] : sim.hostNode(t.owner);
    t.flowId = sim.network.startFlow(sim.nowMs, t.sourceNode, dst, t.sizeBytes, 0, id);
    if (t.kind === 'cdn') cdnFlows[t.owner].add(t.flowId);
  });
  const CDN_LENGTH = sim.on((sn) => {
    if (snDead[sn]) return;
    const plan = cdnPlan[sn]!;
    apply<SupernodeInput>(sn, { kind: 'cdn-length', taskId: TASK_ID, totalBytes: F });
    apply<UploaderInput>(S + sn, { kind: 'list-task', taskId: TASK_ID, pieceCount: plan.pieceCount });
    startCdnPiece(sn, 0, 0);
  });
  const ARRIVE = sim.on((host) => {
    if (sim.crashed[host]) return;
    const id = `h${host}`;
    peers[host] = new Peer(cfg, id);
    hostUploaders[host] = new Uploader({ ...DEFAULT_UPLOADER, uploadLimit: uploadSlotsFor(cfg, world.hostUpBps[host]), maxTasks: cfg.maxTasks });
    machines[2 * S + host] = peers[host] as unknown as Machine<{ kind: string }, unknown>;
    machines[2 * S + N + host] = hostUploaders[host] as unknown as Machine<{ kind: string }, unknown>;
    sinks[2 * S + host] = (e) => onPeerEffect(host, e as PeerEffect);
    sinks[2 * S + N + host] = (e) => onUploaderEffect(sim.hostNode(host), e as UploaderEffect);
    apply<PeerInput>(2 * S + host, { kind: 'start', taskId: TASK_ID, task: TASK, supernodes: snAddrs, uploadAddr: id, pattern, uploadRateBytesPerSec: world.hostUpBps[host], ...sim.topology.placementOf(sim.hostNode(host)) });
  });
  const CRASH_HOST = sim.on((host) => {
    if (sim.crashed[host]) return;
    const node = sim.hostNode(host);
    sim.hostCrashed(host);
    dead[2 * S + host] = 1;
    dead[2 * S + N + host] = 1;
    cutFlows(node);
    for (let sn = 0; sn < S; sn++) {
      if (!snDead[sn]) sim.post(sim.nowMs + sim.latencyMs(node, sim.supernodeNodes[sn]), TO_SUPERNODE_EVENT, { kind: 'peer-gone', peerId: `h${host}` }, sn);
    }
  });
  const DELETE_CACHE = sim.on((host) => {
    apply<UploaderInput>(2 * S + N + host, { kind: 'unlist-task', taskId: TASK_ID });
  });
  const CRASH_SUPERNODE = sim.on((sn) => {
    if (snDead[sn]) return;
    snDead[sn] = 1;
    dead[sn] = 1;
    dead[S + sn] = 1;
    cutFlows(sim.supernodeNodes[sn]);
    for (let h = 0; h < N; h++) {
      if (peers[h]?.currentSupernode === snAddrs[sn]) notifySupernodeDown(h, sn);
    }
  });

  // ---- helpers ----
  function notifySupernodeDown(host: number, sn: number): void {
    if (sim.crashed[host]) return;
    const delayMs = sim.latencyMs(sim.supernodeNodes[sn], sim.hostNode(host));
    sim.post(sim.nowMs + delayMs, TO_PEER, { kind: 'supernode-down', supernode: snAddrs[sn] }, host);
  }

  function failFetch(id: number, failure: 'unreachable' | 'busy' | 'refused', delayMs: number): void {
    const t = transfers[id]!;
    if (!t.cancelled && t.kind === 'piece') {
      sim.post(sim.nowMs + delayMs, TO_PEER, { kind: 'piece-fetched', piece: t.piece, source: t.source, digest: null, failure }, t.owner);
    }
    endTransfer(id);
  }

  function uploadFinished(t: Transfer, id: number): void {
    const m = t.source === SUPERNODE ? S + (t.sourceNode - 1) : 2 * S + N + sim.nodeHost(t.sourceNode);
    apply<UploaderInput>(m, { kind: 'upload-finished', requestId: id, from: `h${t.owner}` });
  }

  /** Cut every flow at a dead node; the living ends hear about it as a real connection would tell them. */
  function cutFlows(node: number): void {
    for (const flowId of sim.network.flowsAt(node)) {
      const id = sim.network.tag(flowId);
      sim.network.cancelFlow(sim.nowMs, flowId);
      const t = transfers[id]!;
      if (t.kind === 'piece') {
        if (t.sourceNode === node) failFetch(id, 'unreachable', sim.latencyMs(node, sim.hostNode(t.owner)));
        else {
          uploadFinished(t, id);
          endTransfer(id);
        }
      } else endTransfer(id);
    }
  }

  function startCdnPiece(sn: number, piece: number, delayMs: number): void {
    const plan = cdnPlan[sn]!;
    const id = newTransfer({ kind: 'cdn', owner: sn, piece, source: SUPERNODE, sourceNode: sim.originNode, sizeBytes: pieceBytes(plan, piece), flowId: -1, cancelled: false });
    sim.at(sim.nowMs + delayMs, START_FLOW, id);
  }

  function onSupernodeEffect(sn: number, e: SupernodeEffect): void {
    const snNode = sim.supernodeNodes[sn];
    switch (e.kind) {
      case 'send': {
        if (e.msg.kind === 'assign') for (const a of e.msg.pieces) if (a.digest === '') counters.assignmentsWithoutDigest++;
        const host = hostIndex(e.to);
        sim.post(sim.nowMs + sim.latencyMs(snNode, sim.hostNode(host)), TO_PEER, { kind: 'supernode-message', from: snAddrs[sn], msg: e.msg }, host);
        return;
      }
      case 'cdn-fetch':
        cdnPlan[sn] = planPieces(F, e.pieceSizeBytes);
        sim.at(sim.nowMs + 2 * sim.latencyMs(snNode, sim.originNode), CDN_LENGTH, sn);
        return;
      case 'cdn-refetch-piece':
        if (cdnPlan[sn]) startCdnPiece(sn, e.piece, 2 * sim.latencyMs(snNode, sim.originNode));
        return;
      case 'cdn-revalidate':
        sim.post(sim.nowMs + 2 * sim.latencyMs(snNode, sim.originNode), TO_SUPERNODE_EVENT, { kind: 'cdn-validated', taskId: e.taskId, changed: false }, sn);
        return;
      case 'cdn-drop':
        for (const flowId of cdnFlows[sn]) if (sim.network.isAlive(flowId)) {
          const id = sim.network.tag(flowId);
          sim.network.cancelFlow(sim.nowMs, flowId);
          endTransfer(id);
        }
        cdnFlows[sn].clear();
        apply<UploaderInput>(S + sn, { kind: 'unlist-task', taskId: e.taskId });
        return;
      case 'check-auth':
        sim.post(sim.nowMs + 2 * sim.latencyMs(snNode, sim.originNode), TO_SUPERNODE_EVENT, { kind: 'auth-result', taskId: e.taskId, peerId: e.peerId, allowed: true }, sn);
        return;
      case 'assigned':
        if (e.source === SUPERNODE) counters.piecesFromSupernode++;
        else counters.piecesFromPeers++;
        return;
      case 'log':
        if (e.level === 'warn') counters.warnings++;
        return;
    }
  }

  function onUploaderEffect(node: number, e: UploaderEffect): void {
    switch (e.kind) {
      case 'serve': {
        const t = transfers[e.requestId]!;
        sim.at(sim.nowMs + sim.latencyMs(node, sim.hostNode(t.owner)), START_FLOW, e.requestId);
        return;
      }
      case 'refuse': {
        counters.refusedFetches++;
        const t = transfers[e.requestId]!;
        if (t.cancelled) return endTransfer(e.requestId);
        return failFetch(e.requestId, e.reason === 'busy' ? 'busy' : 'refused', sim.latencyMs(node, sim.hostNode(t.owner)));
      }
      case 'unlisted':
      case 'exit':
        return;
    }
  }

  function onPeerEffect(host: number, e: PeerEffect): void {
    const node = sim.hostNode(host);
    switch (e.kind) {
      case 'send': {
        const sn = snIndex(e.to);
        if (snDead[sn]) return notifySupernodeDown(host, sn);
        sim.post(sim.nowMs + sim.latencyMs(node, sim.supernodeNodes[sn]), TO_SUPERNODE, e.msg, (sn << 20) | host);
        return;
      }
      case 'plan':
        verifiedGood[host] = new Bitset(e.pieceCount);
        apply<UploaderInput>(2 * S + N + host, { kind: 'list-task', taskId: TASK_ID, pieceCount: e.pieceCount });
        return;
      case 'fetch-piece': {
        const sourceNode = e.source === SUPERNODE ? sim.supernodeNodes[snIndex(e.sourceAddr)] : sim.hostNode(hostIndex(e.sourceAddr));
        const id = newTransfer({ kind: 'piece', owner: host, piece: e.piece, source: e.source, sourceNode, sizeBytes: e.endByte - e.startByte, flowId: -1, cancelled: false });
        fetchOf.set(host * 65536 + e.piece, id);
        sim.at(sim.nowMs + sim.latencyMs(node, sourceNode), TO_UPLOADER, id);
        return;
      }
      case 'cancel-fetch': {
        const id = fetchOf.get(host * 65536 + e.piece);
        if (id === undefined) return;
        const t = transfers[id]!;
        fetchOf.delete(host * 65536 + e.piece);
        if (t.flowId >= 0 && sim.network.isAlive(t.flowId) && sim.network.tag(t.flowId) === id) {
          sim.network.cancelFlow(sim.nowMs, t.flowId);
          uploadFinished(t, id);
          endTransfer(id);
        } else t.cancelled = true;
        return;
      }
      case 'write-piece': {
        if (!verifiedGood[host]?.has(e.piece)) counters.unverifiedWrites++;
        apply<UploaderInput>(2 * S + N + host, { kind: 'have-piece', taskId: TASK_ID, piece: e.piece });
        return;
      }
      case 'fetch-source': {
        counters.backToSourceHosts++;
        const id = newTransfer({ kind: 'source', owner: host, piece: -1, source: 'origin', sourceNode: sim.originNode, sizeBytes: F, flowId: -1, cancelled: false });
        sim.at(sim.nowMs + 2 * sim.latencyMs(node, sim.originNode), START_FLOW, id);
        return;
      }
      case 'done':
        return sim.hostFinished(host);
      case 'failed':
        return sim.hostFailed(host, e.reason);
      case 'log':
        if (e.level === 'warn') counters.warnings++;
        return;
    }
  }

  sim.onFlowDone = (_flowId, id) => {
    const t = transfers[id]!;
    if (t.kind === 'cdn') {
      const sn = t.owner;
      cdnFlows[sn].delete(_flowId);
      endTransfer(id);
      apply<UploaderInput>(S + sn, { kind: 'have-piece', taskId: TASK_ID, piece: t.piece });
      apply<SupernodeInput>(sn, { kind: 'cdn-piece', taskId: TASK_ID, piece: t.piece, digest: pieceDigest(t.piece) });
      const plan = cdnPlan[sn]!;
      if (t.piece + 1 < plan.pieceCount) startCdnPiece(sn, t.piece + 1, 0);
      else apply<SupernodeInput>(sn, { kind: 'cdn-done', taskId: TASK_ID, totalBytes: F, fileDigest: `sha256:${TASK_ID}` });
      return;
    }
    if (t.kind === 'source') {
      endTransfer(id);
      apply<PeerInput>(2 * S + t.owner, { kind: 'source-fetched', ok: true, sizeBytes: F });
      return;
    }
    const corrupt = t.source !== SUPERNODE && world.faults[sim.nodeHost(t.sourceNode)].corrupt;
    const digest = corrupt ? `sha256:corrupt/${t.piece}` : pieceDigest(t.piece);
    if (corrupt) counters.corruptFetches++;
    else verifiedGood[t.owner]?.add(t.piece);
    uploadFinished(t, id);
    endTransfer(id);
    apply<PeerInput>(2 * S + t.owner, { kind: 'piece-fetched', piece: t.piece, source: t.source, digest });
  };

  for (let sn = 0; sn < S; sn++) {
    machines[sn] = supernodes[sn] as unknown as Machine<{ kind: string }, unknown>;
    machines[S + sn] = snUploaders[sn] as unknown as Machine<{ kind: string }, unknown>;
    sinks[sn] = (e) => onSupernodeEffect(sn, e as SupernodeEffect);
    sinks[S + sn] = (e) => onUploaderEffect(sim.supernodeNodes[sn], e as UploaderEffect);
  }

  for (let h = 0; h < N; h++) {
    sim.at(world.arrivalMs[h], ARRIVE, h);
    const f = world.faults[h];
    if (f.crashAtMs !== Infinity) sim.at(f.crashAtMs, CRASH_HOST, h);
    if (f.deleteCacheAtMs !== Infinity) sim.at(f.deleteCacheAtMs, DELETE_CACHE, h);
  }
  world.supernodeCrashAtMs.forEach((atMs, sn) => { if (atMs !== Infinity) sim.at(atMs, CRASH_SUPERNODE, sn); });
  return { sim, counters };
}
