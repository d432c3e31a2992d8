/**
 * Blacklists and self-isolation for one task, over dense peer indexes.
 *
 * Theory of operation (the seed's rules):
 * - When requester A fails to get a piece from source B, B goes on A's local blacklist and
 *   A's scheduler never sends A to B again.
 * - B's consecutive failures as a source (from anyone) reaching `globalBlacklistThreshold` put B
 *   on the global blacklist: no one is sent to B.
 * - A's consecutive failures as a requester exceeding `selfIsolationThreshold` isolate A: it
 *   downloads only from the supernode and goes on the global blacklist itself.
 * - A success resets both consecutive counters; it does not lift a blacklist.
 * Failures involving the supernode as the source are not counted: the supernode is the
 * fallback of last resort and cannot be blacklisted. Each local blacklist holds at most
 * `maxLocalBlacklist` entries (oldest forgotten first).
 */
export interface BlacklistConfig {
  globalBlacklistThreshold: number;
  selfIsolationThreshold: number;
  maxLocalBlacklist: number;
}

export class Blacklists {
  private readonly local = new Map<number, Set<number>>();
  private readonly globalSet = new Set<number>();
  private readonly isolatedSet = new Set<number>();
  private readonly sourceFailures = new Map<number, number>();
  private readonly requesterFailures = new Map<number, number>();

  constructor(private readonly cfg: BlacklistConfig) {}

  recordFailure(requester: number, source: number): void {
    if (requester === source) return;
    this.addLocal(requester, source);
    const sourceCount = (this.sourceFailures.get(source) ?? 0) + 1;
    this.sourceFailures.set(source, sourceCount);
    if (sourceCount >= this.cfg.globalBlacklistThreshold) this.globalSet.add(source);
    const requesterCount = (this.requesterFailures.get(requester) ?? 0) + 1;
    this.requesterFailures.set(requester, requesterCount);
    if (requesterCount > this.cfg.selfIsolationThreshold) {
      this.isolatedSet.add(requester);
      this.globalSet.add(requester);
    }
  }

  recordSuccess(requester: number, source: number): void {
    this.sourceFailures.delete(source);
    this.requesterFailures.delete(requester);
  }

  /** Seed a requester's local blacklist (a peer migrating from another supernode brings its own). */
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

  /** Source `source` may serve requester `requester`. */
  allows(requester: number, source: number): boolean {
    return !this.globalSet.has(source) && !(this.local.get(requester)?.has(source) ?? false);
  }

  get globallyBlacklisted(): ReadonlySet<number> { return this.globalSet; }
  get isolated(): ReadonlySet<number> { return this.isolatedSet; }
  consecutiveSourceFailures(peer: number): number { return this.sourceFailures.get(peer) ?? 0; }
  consecutiveRequesterFailures(peer: number): number { return this.requesterFailures.get(peer) ?? 0; }
}
