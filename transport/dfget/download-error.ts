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
