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
  const key = grant.signature.slice(0, grant.signature.indexOf('|'));
  if (!trusted.has(key) || grant.signature !== tokenOf(key, grant)) return null;
  return { taskId: grant.taskId, expiresAtMs: grant.expiresAtMs };
}
