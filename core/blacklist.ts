/**
 * Blacklists, self-isolation and the weight of failure reports for one task, over dense peer
 * indexes.
 *
 * Theory of operation. The seed's rules, made so that no reporter can lie an honest peer onto the
 * global blacklist, and no dishonest source can get an honest requester isolated:
 * - local: when requester A fails to get a piece from source B, B goes on A's local blacklist and
 *   A is never sent to B again. A's word is enough for A.
 * - disputes: a failure from a source the supernode has not checked yet has it checked (a probe:
 *   the supernode fetches a piece of B itself and verifies it), once: served makes B confirmed
 *   good, failed puts B on the global blacklist, inconclusive (busy, no answer) leaves it
 *   unchecked until the next failure.
 * - accusations: A's failure is also an accusation against B. What counts is the number of
 *   distinct credible accusers of B since B's last success: one reporter counts once however often
 *   it reports. A reporter is credible once it has reported a successful fetch from a peer (one
 *   that only ever reports peer failures carries no weight; its earlier accusations count from
 *   then on), and is not credible while it is isolated or after a probe disproved it. When B's
 *   credible accusers reach `globalBlacklistThreshold`, B is suspended (no one is sent to it) and
 *   probed again, confirmed or not: failed puts it on the global blacklist; served clears it and
 *   discredits every accuser of B for this task.
 * - self-isolation: A's failures from distinct sources since its last success that are confirmed
 *   good (served a probe, not since blacklisted, not gone) exceeding `selfIsolationThreshold`
 *   isolate A: it downloads only from the supernode and goes on the global blacklist itself.
 *   Failing where the supernode itself is served is A's own problem; failing at bad sources is not.
 * - a success resets B's accusations and A's failures; it lifts no blacklist.
 * Failures with the supernode as the source are never recorded here: the supernode is the
 * fallback of last resort and cannot be blacklisted. Each local blacklist holds at most
 * `maxLocalBlacklist` entries (oldest forgotten first); every other set is bounded by the peers
 * of the task, and at most one probe per source is asked for at a time.
 *
 *   call                          effect on the lists                      probe queue
 *   recordFailure(A, B)           local(A) += B; accusation; A may isolate += B (first dispute, or B accused enough)
 *   recordSuccess(A, B)           clears B's accusers and A's failures;    += sources A accused that now
 *                                 A becomes credible                       reach the threshold
 *   probeFailed(B)                B on the global blacklist                -
 *   probeServed(B)                B confirmed good (resumed; accusers      -
 *                                 discredited if it was suspended); its requesters may isolate
 *   probeInconclusive(B)          B resumed, unchecked                     -
 *   markGone(B)                   B no longer counts against anyone        -
 *   addLocal(A, B)                local(A) += B (migration; a slow fetch)  -
 */
import type { FailureKind } from './protocol.ts';

/**
 * What a failed fetch says about its source, the one rule both the peer (its own list) and the
 * supernode (settling the result) go by: nothing (`busy`, a refused grant: the source did nothing
 * wrong), that this requester should keep away from it (`slow`: a congested path is not a
 * dishonest peer), or an accusation (every other failure, an unknown one included).
 */
export type Blame = 'none' | 'local' | 'accuse';

export function blameFor(failure: FailureKind | undefined): Blame {
  switch (failure) {
    case 'busy':
    case 'unauthorized':
      return 'none';
    case 'slow':
      return 'local';
    default:
      return 'accuse';
  }
}

export interface BlacklistConfig {
  globalBlacklistThreshold: number;
  selfIsolationThreshold: number;
  maxLocalBlacklist: number;
}

export class Blacklists {
  private readonly local = new Map<number, Set<number>>();
  private readonly globalSet = new Set<number>();
  private readonly isolatedSet = new Set<number>();
  /** source -> requesters whose last fetch from it failed, since its last success. */
  private readonly accusers = new Map<number, Set<number>>();
  /** requester -> sources it accused (may hold stale entries; `accusers` is the truth). */
  private readonly accused = new Map<number, Set<number>>();
  /** requester -> distinct sources that failed it since its last success. */
  private readonly failedSources = new Map<number, Set<number>>();
  private readonly credible = new Set<number>();
  private readonly discredited = new Set<number>();
  private readonly suspended = new Set<number>();
  /** Sources with a probe asked for and not answered (suspended ones among them). */
  private readonly probing = new Set<number>();
  /** Sources that served the supernode's own probe. */
  private readonly confirmedGood = new Set<number>();
  /** source -> requesters with it among their failed sources (to re-check them when it is confirmed). */
  private readonly failedBy = new Map<number, Set<number>>();
  private readonly gone = new Set<number>();
  private probeQueue: number[] = [];

  constructor(private readonly cfg: BlacklistConfig) {}

  recordFailure(requester: number, source: number): void {
    if (requester === source) return;
    this.addLocal(requester, source);
    if (!this.isolatedSet.has(requester)) {
      addTo(this.failedSources, requester, source);
      addTo(this.failedBy, source, requester);
      this.checkIsolation(requester);
    }
    if (this.globalSet.has(source) || this.gone.has(source)) return;
    if (!this.discredited.has(requester)) {
      addTo(this.accusers, source, requester);
      addTo(this.accused, requester, source);
      this.consider(source);
    }
    if (!this.confirmedGood.has(source)) this.askProbe(source);
  }

  recordSuccess(requester: number, source: number): void {
    // Empty maps (a swarm without failures, the common case) are not looked into.
    if (this.failedSources.size > 0) this.failedSources.delete(requester);
    if (this.accusers.size > 0) this.accusers.delete(source);
    if (this.credible.has(requester)) return;
    this.credible.add(requester);
    // Its earlier accusations carry weight from now on.
    for (const accusedSource of this.accused.get(requester) ?? []) {
      if (this.accusers.get(accusedSource)?.has(requester)) this.consider(accusedSource);
    }
  }

  /** Sources to probe since the last call; the caller answers each with probeFailed / Served / Inconclusive. */
  takeProbes(): number[] {
    const probes = this.probeQueue;
    if (probes.length === 0) return probes; // nothing asked (almost every report): no new list
    this.probeQueue = [];
    return probes;
  }

  /** The supernode could not get a verified piece from `source`: it goes on the global blacklist. */
  probeFailed(source: number): void {
    this.probing.delete(source);
    this.suspended.delete(source);
    this.confirmedGood.delete(source);
    this.globalSet.add(source);
    this.accusers.delete(source);
  }

  /**
   * `source` served a verified piece to the supernode: it is confirmed good; if it was suspended,
   * its accusers were wrong, or lied. Requesters that failed from it may now have failed enough.
   */
  probeServed(source: number): void {
    this.probing.delete(source);
    this.confirmedGood.add(source);
    if (this.suspended.delete(source)) {
      for (const accuser of this.accusers.get(source) ?? []) this.discredited.add(accuser);
      this.accusers.delete(source);
    }
    for (const requester of this.failedBy.get(source) ?? []) this.checkIsolation(requester);
  }

  /** No verdict (the source was busy, or the probe could not run): resume it, keep its accusers. */
  probeInconclusive(source: number): void {
    this.probing.delete(source);
    this.suspended.delete(source);
  }

  /** The peer left: failures from it explain nothing about its requesters, and it needs no probe. */
  markGone(peer: number): void {
    this.gone.add(peer);
    this.suspended.delete(peer);
    this.probing.delete(peer);
  }

  /**
   * Put `source` on `requester`'s local blacklist alone: a peer migrating from another supernode
   * brings its own, and a fetch the requester gave up on as slow (`slowFetchFactor`) accuses no one.
   */
  addLocal(requester: number, source: number): void {
    let set = this.local.get(requester);
    if (!set) this.local.set(requester, set = new Set());
    if (set.has(source)) return;
    if (set.size >= this.cfg.maxLocalBlacklist) set.delete(set.values().next().value as number);
    set.add(source);
  }

  isLocallyBlacklisted(requester: number, source: number): boolean {
    return this.local.get(requester)?.has(source) ?? false;
  }
  isGloballyBlacklisted(peer: number): boolean { return this.globalSet.has(peer); }
  isIsolated(peer: number): boolean { return this.isolatedSet.has(peer); }
  isSuspended(peer: number): boolean { return this.suspended.has(peer); }
  isConfirmedGood(peer: number): boolean { return this.confirmedGood.has(peer); }
  isCredible(peer: number): boolean {
    return this.credible.has(peer) && !this.discredited.has(peer) && !this.isolatedSet.has(peer);
  }

  /** Source `source` may serve requester `requester`. */
  allows(requester: number, source: number): boolean {
    // No lists at all (a swarm without failures, the common case): nothing to look up.
    if (this.globalSet.size === 0 && this.suspended.size === 0 && this.local.size === 0) return true;
    return !this.globalSet.has(source) && !this.suspended.has(source) && !(this.local.get(requester)?.has(source) ?? false);
  }

  get globallyBlacklisted(): ReadonlySet<number> { return this.globalSet; }
  get isolated(): ReadonlySet<number> { return this.isolatedSet; }
  /** Distinct credible accusers of `source` since its last success. */
  credibleAccusers(source: number): number {
    let count = 0;
    for (const accuser of this.accusers.get(source) ?? []) if (this.isCredible(accuser)) count++;
    return count;
  }
  /** Accusers of `source` since its last success, credible or not. */
  accusersOf(source: number): number { return this.accusers.get(source)?.size ?? 0; }

  /** Accused by enough credible peers: suspend it and have it checked (again, if it was confirmed). */
  private consider(source: number): void {
    if (this.suspended.has(source) || this.globalSet.has(source) || this.gone.has(source)) return;
    if (this.credibleAccusers(source) < this.cfg.globalBlacklistThreshold) return;
    this.suspended.add(source);
    this.confirmedGood.delete(source);
    this.askProbe(source);
  }

  private askProbe(source: number): void {
    if (this.probing.has(source)) return;
    this.probing.add(source);
    this.probeQueue.push(source);
  }

  private checkIsolation(requester: number): void {
    const failed = this.failedSources.get(requester);
    if (!failed || this.isolatedSet.has(requester)) return;
    let count = 0;
    for (const source of failed) if (this.confirmedGood.has(source) && !this.globalSet.has(source) && !this.gone.has(source)) count++;
    if (count <= this.cfg.selfIsolationThreshold) return;
    this.isolatedSet.add(requester);
    this.globalSet.add(requester);
    this.failedSources.delete(requester);
  }
}

/** Add `value` to the set kept under `key`, creating the set on first use. */
function addTo(map: Map<number, Set<number>>, key: number, value: number): void {
  let set = map.get(key);
  if (!set) map.set(key, set = new Set());
  set.add(value);
}
