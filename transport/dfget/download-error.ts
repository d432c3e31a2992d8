/**
 * Errors of a download and the `dfget` exit code each one maps to (listed in `dfget --help`).
 */

/** Process exit codes of `dfget`, one per DownloadError code (listed in `dfget --help`). */
export const EXIT_CODES = {
  ok: 0,
  internal: 1,
  usage: 2,
  'supernode-unreachable': 3,
  'source-error': 4,
  'digest-mismatch': 5,
  timeout: 6,
  io: 7,
  failed: 8,
  aborted: 130,
} as const;

export type DownloadErrorCode = Exclude<keyof typeof EXIT_CODES, 'ok'>;

export class DownloadError extends Error {
  readonly exitCode: number;
  constructor(readonly code: DownloadErrorCode, message: string, readonly status?: number) {
    super(message);
    this.name = 'DownloadError';
    this.exitCode = EXIT_CODES[code];
  }
}

/**
 * The user's error for a download the core failed: the source's status when it gave one, which
 * supernodes could not be reached and why, or what the back-to-source attempt hit.
 */
export function failureError(
  reason: string, status: number | undefined, supernodes: readonly string[], backToSource: boolean,
  downReasons: ReadonlyMap<string, string>, sourceFailure: string | null,
): DownloadError {
  if (status !== undefined) return new DownloadError('source-error', `the source cannot be downloaded: ${reason} (HTTP ${status})`, status);
  const allDown = downReasons.size > 0 && downReasons.size >= supernodes.length;
  const list = supernodes.map((addr) => `${addr} (${downReasons.get(addr) ?? 'unknown'})`).join(', ');
  const which = supernodes.length === 1 ? `supernode ${list}` : `any supernode: ${list}`;
  if (sourceFailure !== null) {
    const before = allDown ? `cannot reach ${which}, and ` : '';
    return new DownloadError('source-error', `${before}the download from the source failed: ${sourceFailure}`);
  }
  if (allDown) {
    return new DownloadError('supernode-unreachable', `cannot reach ${which}; is it running? set --node${backToSource ? '' : ', or drop --no-back-source'}`);
  }
  return new DownloadError('failed', `download failed: ${reason}`);
}
