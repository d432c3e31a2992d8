/**
 * The managing node's table of live supernodes.
 *
 * Theory of operation. A supernode announces itself with its address, IDC, location and load,
 * and announces again as a heartbeat; each announcement renews its lease for `ttlMs`. One that
 * stops announcing (crashed, cut off) is dropped when its lease runs out; one shutting down
 * withdraws at once. The table holds at most `maxSupernodes`: an announcement from a new address
 * beyond that is refused (the operator raises the limit), never one from a known address. A
 * query ranks the live supernodes for the requester (supernode-choice.ts) and advances the
 * round-robin turn, so equally suitable supernodes take turns being assigned.
 *
 *   input                      result / effect on the table
 *   announce (new address)     'added'   | 'full' (table at maxSupernodes)
 *   announce (known address)   'renewed' (place and load updated, lease restarted)
 *   withdraw                   true if it was listed
 *   expire(nowMs)              drops every supernode whose lease ended; returns their addresses
 *   choose(nowMs, requester)   live supernodes, most suitable first; turn + 1
 *
 * Every call drops the leases that ended first, so a supernode can leave the table on any of
 * them (a heartbeat from another supernode, a query), not only on the driver's timer: each drop,
 * whichever call made it, is kept until the driver takes it (`takeDropped`, after every call) to
 * log it. `nextDeadlineMs()` is the earliest lease end, for the driver's one timer. Time is an
 * argument and never goes back.
 */
import { Clock } from './drive.ts';
import type { AnnounceMsg, ChooseAnswer, ChooseQuery } from './manager-api.ts';
import { rankSupernodes, type SupernodeCandidate } from './supernode-choice.ts';

export interface DirectoryConfig {
  ttlMs: number;
  maxSupernodes: number;
}

export type AnnounceResult = 'added' | 'renewed' | 'full';

interface Listing extends SupernodeCandidate {
  expiresAtMs: number;
  announcedAtMs: number;
}

export interface DirectoryEntry {
  address: string;
  idc: string;
  location: string;
  load: number | null;
  announcedAtMs: number;
  expiresAtMs: number;
}

export class SupernodeDirectory {
  private readonly listings = new Map<string, Listing>();
  /**
   * Addresses dropped for an ended lease and not yet taken by the driver. One call drops at most
   * the table, maxSupernodes, so a driver that takes them after every call loses none; one that
   * never does keeps only the latest maxSupernodes.
   */
  private dropped: string[] = [];
  private readonly clock = new Clock();
  private turn = 0;
  readonly counters = { added: 0, renewed: 0, refused: 0, withdrawn: 0, expired: 0, queries: 0 };

  constructor(readonly cfg: DirectoryConfig) {
    if (!(cfg.ttlMs > 0) || !(cfg.maxSupernodes >= 1)) throw new Error(`bad directory config ${JSON.stringify(cfg)}`);
  }

  get size(): number { return this.listings.size; }

  announce(nowMs: number, msg: AnnounceMsg): AnnounceResult {
    this.clock.advance(nowMs);
    this.expire(nowMs);
    const known = this.listings.get(msg.address);
    if (!known && this.listings.size >= this.cfg.maxSupernodes) {
      this.counters.refused++;
      return 'full';
    }
    this.listings.set(msg.address, {
      address: msg.address, idc: msg.idc, location: msg.location, load: msg.load,
      announcedAtMs: known?.announcedAtMs ?? nowMs, expiresAtMs: nowMs + this.cfg.ttlMs,
    });
    if (known) this.counters.renewed++;
    else this.counters.added++;
    return known ? 'renewed' : 'added';
  }

  withdraw(nowMs: number, address: string): boolean {
    this.expire(nowMs);
    const removed = this.listings.delete(address);
    if (removed) this.counters.withdrawn++;
    return removed;
  }

  /** Drop supernodes whose lease ended at or before `nowMs`; returns their addresses. */
  expire(nowMs: number): string[] {
    this.clock.advance(nowMs);
    const dropped: string[] = [];
    for (const [address, listing] of this.listings) {
      if (listing.expiresAtMs <= nowMs) dropped.push(address);
    }
    for (const address of dropped) this.listings.delete(address);
    this.counters.expired += dropped.length;
    this.dropped.push(...dropped);
    if (this.dropped.length > this.cfg.maxSupernodes) this.dropped.splice(0, this.dropped.length - this.cfg.maxSupernodes);
    return dropped;
  }

  /** The addresses dropped for an ended lease since the last call, by any call (the driver logs them). */
  takeDropped(): string[] {
    const taken = this.dropped;
    this.dropped = [];
    return taken;
  }

  nextDeadlineMs(): number | null {
    let earliest: number | null = null;
    for (const listing of this.listings.values()) {
      if (earliest === null || listing.expiresAtMs < earliest) earliest = listing.expiresAtMs;
    }
    return earliest;
  }

  /** Live supernodes, most suitable for the requester first (the first one is assigned). */
  choose(nowMs: number, requester: ChooseQuery): ChooseAnswer {
    this.expire(nowMs);
    this.counters.queries++;
    const ranked = rankSupernodes([...this.listings.values()], requester, this.turn);
    this.turn = (this.turn + 1) % Number.MAX_SAFE_INTEGER;
    return {
      assigned: ranked[0]?.address ?? null,
      supernodes: ranked.map(({ address, idc, location }) => ({ address, idc, location })),
    };
  }

  /** Every listing, by address (for /metrics and tests). */
  entries(): DirectoryEntry[] {
    return [...this.listings.values()]
      .map(({ address, idc, location, load, announcedAtMs, expiresAtMs }) => ({ address, idc, location, load, announcedAtMs, expiresAtMs }))
      .sort((a, b) => (a.address < b.address ? -1 : 1));
  }
}
