/**
 * The last step of a download, once the core said `done` and every write has landed: the
 * whole-file digest (checked against `--digest`), the `.server` backup listed in the uploader,
 * the result moved to the output path, and, for a P2P download, the task handed to the uploader
 * to seed (register with the supernodes after this process exits).
 */
import type { PiecePlan } from '../../core/pieces.ts';
import type { TaskSpec } from '../../core/protocol.ts';
import { sleep } from '../real-timer.ts';
import { DownloadError } from './download-error.ts';
import { uploadRateOf, type DownloadRequest } from './download-request.ts';
import type { LogFn } from './home.ts';
import type { TaskStore } from './task-store.ts';
import type { UploaderLink } from './uploader-link.ts';
import type { FileDigests, WholeFileDigest } from './whole-file-digest.ts';

export interface Completion {
  req: DownloadRequest;
  taskId: string;
  spec: TaskSpec;
  store: TaskStore;
  uploader: UploaderLink;
  log: LogFn;
  plan: PiecePlan;
  /** The digests a back-to-source download computed as it wrote (null for a P2P download). */
  sourceDigests: FileDigests | null;
  digest: WholeFileDigest;
  /** How long to wait for this home's uploader if it is still booting (the fleet's `uploaderWaitMs`). */
  uploaderWaitMs: number;
}

/** Verify, back up, move and hand over; returns the file's digest. Throws `DownloadError`. */
export async function completeDownload(c: Completion): Promise<string> {
  await c.store.flush();
  const digests = c.sourceDigests ?? await c.digest.result();
  const fileDigest = digests.sha256;
  if (c.req.digest && c.req.digest.toLowerCase() !== fileDigest) {
    throw new DownloadError('digest-mismatch', `the downloaded file has digest ${fileDigest} but --digest says ${c.req.digest}; the source may have changed`);
  }
  if (c.req.md5 && c.req.md5.toLowerCase() !== digests.md5) {
    throw new DownloadError('digest-mismatch', `the downloaded file has MD5 ${digests.md5} but --md5 says ${c.req.md5}; the source may have changed`);
  }
  const noBackup = await c.store.finalize(c.req.outputPath, (outputStamp) => {
    c.uploader.listTask({ taskId: c.taskId, fileName: `${c.taskId}.server`, ...c.plan, ...(outputStamp ? { outputStamp } : {}) });
    if (c.sourceDigests !== null) for (let piece = 0; piece < c.plan.pieceCount; piece++) c.uploader.havePiece(c.taskId, piece);
  });
  const how = c.sourceDigests ? 'hashed as it came from the source' : c.digest.fromCdn ? "the supernode CDN's" : 'hashed here';
  c.log('info', `saved ${c.req.outputPath} (${c.plan.totalBytes} B, ${fileDigest}, ${how})`);
  if (noBackup) {
    c.log('warn', noBackup.why === 'disk-full'
      ? `no space on the disk of --home for the seeding copy of ${c.taskId}; this host will not seed it`
      : `${c.req.outputPath} changed while it was moved into place; this host will not seed ${c.taskId}`);
  }
  if (!noBackup && c.req.pattern === 'p2p' && c.req.supernodes.length > 0) {
    // This process's supernode connection ends with it: the uploader, which keeps serving the
    // file, registers it under its own id so later peers are still sent here.
    await Promise.race([c.uploader.connect().catch(() => {}), sleep(c.uploaderWaitMs, undefined, false)]);
    c.uploader.seedTask({
      taskId: c.taskId, task: c.spec, supernodes: c.req.supernodes, fileDigest,
      ...(uploadRateOf(c.req) > 0 ? { uploadRateBytesPerSec: uploadRateOf(c.req) } : {}),
    });
  }
  return fileDigest;
}
