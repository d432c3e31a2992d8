/**
 * The in-process download API: what `dfget` runs and what `dfdaemon` calls for every blob.
 * `download()` fetches one URL through the P2P network into `<homeDir>/data/`, verifies every
 * piece, keeps a `.server` backup for uploading and moves the result to `outputPath`. It resolves
 * with a summary (including the settings its supernode gave) or rejects with a `DownloadError`.
 *
 * A caller that lives long (dfdaemon) may host this home's uploader itself with `startUploader`;
 * otherwise the first download starts a background uploader that outlives it and exits when idle.
 */
import type { DownloadRequest, DownloadResult } from './download-request.ts';
import { DownloadSession } from './download-session.ts';

export { DownloadError, EXIT_CODES, type DownloadErrorCode } from './download-error.ts';
export type {
  DownloadPattern, DownloadPlan, DownloadProgress, DownloadRequest, DownloadResult, EffectiveSettings,
} from './download-request.ts';
export { startUploader, type UploaderHandle, type UploaderOptions } from '../uploader/uploader-server.ts';

/**
 * Download `req.url` to `req.outputPath` through the supernodes in `req.supernodes`.
 * Rejects with a `DownloadError` whose `code` and `exitCode` say what went wrong.
 */
export async function download(req: DownloadRequest): Promise<DownloadResult> {
  return (await DownloadSession.open(req)).run();
}
