/** The one task every host of a dragonfly run downloads, and what its simulated bytes hash to. */
import type { TaskSpec } from '../../../core/protocol.ts';

export const TASK_ID = 'sim-task';
export const TASK: TaskSpec = { url: 'http://origin/sim-task', headers: {} };
export const FILE_DIGEST = `sha256:${TASK_ID}`;

/** The digest the supernode's CDN computes for a piece; every honest copy hashes to it. */
export function pieceDigest(piece: number): string { return `sha256:${TASK_ID}/${piece}`; }

/** What a corrupt uploader's copy of a piece hashes to: anything but `pieceDigest`. */
export function corruptDigest(piece: number): string { return `sha256:corrupt/${piece}`; }
