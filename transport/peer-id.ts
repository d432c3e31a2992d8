/**
 * Peer ids on the control plane. The supernode accepts only ids of this pattern (they appear in
 * logs, metrics and close reasons; '@' is reserved, `@supernode` is the CDN); dfget and the
 * uploader's seeder make theirs with `newPeerId`, so what a client sends always passes.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

export const PEER_ID_PATTERN = /^[A-Za-z0-9._:-]{1,200}$/;
export const PEER_ID_RULE = 'peerId must be 1-200 characters of A-Z a-z 0-9 . _ : -';

export function isPeerId(value: string): boolean {
  return PEER_ID_PATTERN.test(value);
}

/**
 * `<hostname>-<role>-<8 random hex>`: readable in a supernode's log, unique per process and role.
 * Characters the pattern refuses (a hostname may have any) become '-'.
 */
export function newPeerId(role: string, host = hostname()): string {
  const clean = (text: string): string => text.replace(/[^A-Za-z0-9._:-]/g, '-');
  return `${clean(host).slice(0, 100)}-${clean(role).slice(0, 60)}-${randomBytes(4).toString('hex')}`;
}
