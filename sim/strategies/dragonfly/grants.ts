/**
 * Grants in the simulator: the core decides who is admitted and for how long exactly as in
 * production; what the transport does with Ed25519 is modelled by a structural token. Supernode
 * `sn`'s "key" is a name, its "signature" of a grant is that name followed by the grant's fields,
 * and verifying it is recomputing that text for a key the uploader trusts. Nothing in the run can
 * forge it because no host ever builds one; a grant that does not verify is refused by the core
 * Uploader like a bad signature in production.
 */
import type { Grant } from '../../../core/protocol.ts';
import type { VerifiedGrant } from '../../../core/uploader.ts';

/** The key supernode `sn` signs its grants with (and hands out in task-info). */
export function supernodeKeyOf(sn: number): string { return `sim-key-sn${sn}`; }

function tokenOf(key: string, grant: Grant): string {
  return `${key}|${grant.taskId}|${grant.peer}|${grant.expiresAtMs}`;
}

export function signGrant(key: string, grant: Grant): Grant {
  return { ...grant, signature: tokenOf(key, grant) };
}

/** The grant as the core Uploader sees it: null unless signed by one of `trusted`. */
export function verifyGrant(trusted: ReadonlySet<string>, grant: Grant | undefined): VerifiedGrant | null {
  if (!grant) return null;
  let checked = checkedGrants.get(grant);
  if (checked === undefined || checked.signature !== grant.signature || checked.taskId !== grant.taskId
    || checked.peer !== grant.peer || checked.expiresAtMs !== grant.expiresAtMs) {
    // A peer sends one grant object with every request until it is renewed: its token is built once.
    const key = grant.signature.slice(0, grant.signature.indexOf('|'));
    const verified = grant.signature === tokenOf(key, grant) ? { taskId: grant.taskId, expiresAtMs: grant.expiresAtMs } : null;
    checked = { signature: grant.signature, taskId: grant.taskId, peer: grant.peer, expiresAtMs: grant.expiresAtMs, key, verified };
    checkedGrants.set(grant, checked);
  }
  return checked.verified !== null && trusted.has(checked.key) ? checked.verified : null;
}

/** What verifyGrant found of a grant object, with the fields it was found for. */
interface CheckedGrant { signature: string; taskId: string; peer: string; expiresAtMs: number; key: string; verified: VerifiedGrant | null }
const checkedGrants = new WeakMap<Grant, CheckedGrant>();
