/** The one task every host of a dragonfly run downloads, and what its simulated bytes hash to. */
import type { TaskSpec } from '../../../core/protocol.ts';

export const TASK_ID = 'sim-task';
export const TASK: TaskSpec = { url: 'http://origin/sim-task', headers: {} };
export const FILE_DIGEST = `sha256:${TASK_ID}`;

/** Made once per piece: the one string object compares by reference wherever a digest is checked. */
const pieceDigests: string[] = [];

/** The digest the supernode's CDN computes for a piece; every honest copy hashes to it. */
export function pieceDigest(piece: number): string {
  if (!(Number.isInteger(piece) && piece >= 0)) return `sha256:${TASK_ID}/${piece}`;
  let digest = pieceDigests[piece];
  if (digest === undefined) {
    for (let p = pieceDigests.length; p <= piece; p++) pieceDigests.push(`sha256:${TASK_ID}/${p}`);
    digest = pieceDigests[piece];
  }
  return digest;
}

/** What a corrupt uploader's copy of a piece hashes to: anything but `pieceDigest`. */
export function corruptDigest(piece: number): string { return `sha256:corrupt/${piece}`; }
