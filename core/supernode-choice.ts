/**
 * Which supernode suits a host best: the managing node's rule (seed: "assign the most suitable
 * supernode ... and distribute the list of all other supernodes"). Pure and deterministic: the
 * same supernodes, requester and turn always give the same order.
 *
 * Order, most suitable first:
 *   1. same IDC as the requester (a host that declares no IDC matches none);
 *   2. longest common location prefix, locations being `|`-separated paths from the widest area
 *      to the narrowest (`cn|hangzhou|rack-7`): a supernode in the same rack beats one in the same
 *      city, which beats one in the same country;
 *   3. lighter load, compared in powers of two (0, 1, 2-3, 4-7, ...) so that supernodes a few
 *      peers apart count as equal — exact counts would send every host of a heartbeat interval to
 *      the one that reported one peer fewer; a supernode that reports no load counts as idle;
 *   4. among equals, round robin: the group is rotated by `turn` (the managing node counts its
 *      answers), so hosts spread over equally suitable supernodes; before rotating, equals are
 *      sorted by address, so the rotation does not depend on announcement order.
 */

export const LOCATION_SEPARATOR = '|';

export interface SupernodePlace {
  /** Data centre name; '' = not declared. */
  idc: string;
  /** `|`-separated path, widest first; '' = not declared. */
  location: string;
}

export interface SupernodeCandidate extends SupernodePlace {
  /** `host:port` peers dial. */
  address: string;
  /** Peers the supernode serves, as it last reported; null = not reported. */
  load: number | null;
}

export function locationSegments(location: string): string[] {
  return location === '' ? [] : location.split(LOCATION_SEPARATOR);
}

/** Number of leading location segments two places share. */
export function commonLocationDepth(a: string, b: string): number {
  const left = locationSegments(a);
  const right = locationSegments(b);
  let depth = 0;
  while (depth < left.length && depth < right.length && left[depth] === right[depth]) depth++;
  return depth;
}

/** 0 for load 0 (or unknown), then 1, 2 for 2-3, 3 for 4-7, ...: floor(log2(load)) + 1. */
export function loadClass(load: number | null): number {
  if (load === null || !(load >= 1)) return 0;
  let klass = 1;
  for (let rest = Math.floor(load); rest > 1; rest = Math.floor(rest / 2)) klass++;
  return klass;
}

interface Ranked { candidate: SupernodeCandidate; sameIdc: boolean; depth: number; loadClass: number }

function compareSuitability(a: Ranked, b: Ranked): number {
  if (a.sameIdc !== b.sameIdc) return a.sameIdc ? -1 : 1;
  if (a.depth !== b.depth) return b.depth - a.depth;
  return a.loadClass - b.loadClass;
}

/**
 * Every candidate, most suitable for `requester` first; equals rotated by `turn` (any integer).
 * The first entry is the assigned supernode, the rest are the fallbacks in order.
 */
export function rankSupernodes(candidates: readonly SupernodeCandidate[], requester: SupernodePlace, turn: number): SupernodeCandidate[] {
  const ranked: Ranked[] = candidates.map((candidate) => ({
    candidate,
    sameIdc: requester.idc !== '' && candidate.idc === requester.idc,
    depth: commonLocationDepth(candidate.location, requester.location),
    loadClass: loadClass(candidate.load),
  }));
  ranked.sort((a, b) => compareSuitability(a, b) || compareAddress(a.candidate.address, b.candidate.address));
  const rotation = Number.isSafeInteger(turn) ? Math.abs(turn) : 0;
  const ordered: SupernodeCandidate[] = [];
  for (let start = 0; start < ranked.length;) {
    let end = start + 1;
    while (end < ranked.length && compareSuitability(ranked[start], ranked[end]) === 0) end++;
    const size = end - start;
    for (let i = 0; i < size; i++) ordered.push(ranked[start + ((i + rotation) % size)].candidate);
    start = end;
  }
  return ordered;
}

function compareAddress(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
