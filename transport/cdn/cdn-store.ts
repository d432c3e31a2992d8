/**
 * The supernode's cache on disk: `<home>/cdn/<taskId>/` holds one file per piece
 * (`<index>.piece`) and `meta.json` with the source's validators, the piece plan and the size and
 * SHA-256 recorded for every piece when it was fetched.
 *
 * Paths come only from a taskId that passed `isTaskId` (64 hex chars) and a whole piece index, so
 * nothing a peer sends can name a file outside a task's directory. Writes go to a temporary
 * name and are renamed into place, so a crash leaves either a whole piece or none; `meta.json`
 * is the record of which pieces are good, and every piece is re-verified against it before it is
 * trusted again: fully after a restart, and before serving unless the file is provably the one
 * verified before (see `verified`).
 */
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isTaskId } from '../task-id.ts';

export interface PieceRecord { sizeBytes: number; digest: string }

export interface CacheMeta {
  url: string;
  etag?: string;
  lastModified?: string;
  /** Whether the source answered a byte range with 206 (pieces can be fetched one by one). */
  acceptRanges: boolean;
  totalBytes: number;
  pieceSizeBytes: number;
  pieceCount: number;
  /** The piece-size setting the plan was made with (0 = the seed's rule). */
  pieceSizeSetting: number;
  pieces: (PieceRecord | null)[];
  fileDigest?: string;
  complete: boolean;
}

function signature(stats: { ino: number; size: number; mtimeMs: number }, record: PieceRecord): string {
  return `${stats.ino}:${stats.size}:${stats.mtimeMs}:${record.digest}`;
}

export function sha256Hex(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** Pieces whose verification is remembered; past this the memory is dropped and pieces re-hashed. */
const VERIFIED_LIMIT = 1_000_000;

export class CdnStore {
  /**
   * taskId → piece → signature (inode, size, mtime, digest) of a piece file whose bytes were last
   * seen to match its digest. Hashing every piece on every serve cost ~11 ms per 4 MiB (more than
   * sending it); a file that is replaced, rewritten or truncated changes its signature and is
   * hashed again, one that is deleted fails to open. Only a change that keeps inode, size and
   * mtime (bit rot) goes unseen here — and the receiving peer still verifies every piece.
   */
  private readonly verified = new Map<string, Map<number, string>>();
  private verifiedCount = 0;

  constructor(readonly rootDir: string) {}

  dirOf(taskId: string): string {
    if (!isTaskId(taskId)) throw new Error(`refusing a cache path for a malformed taskId ${JSON.stringify(taskId).slice(0, 80)}`);
    return join(this.rootDir, taskId);
  }

  piecePath(taskId: string, piece: number): string {
    if (!Number.isSafeInteger(piece) || piece < 0) throw new Error(`piece index must be a whole number, got ${piece}`);
    return join(this.dirOf(taskId), `${piece}.piece`);
  }

  async loadMeta(taskId: string): Promise<CacheMeta | null> {
    let text: string;
    try {
      text = await readFile(join(this.dirOf(taskId), 'meta.json'), 'utf8');
    } catch {
      return null;
    }
    try {
      const meta = JSON.parse(text) as CacheMeta;
      const shapeOk = typeof meta.url === 'string' && Number.isSafeInteger(meta.totalBytes)
        && Number.isSafeInteger(meta.pieceSizeBytes) && Array.isArray(meta.pieces) && meta.pieces.length === meta.pieceCount;
      return shapeOk ? meta : null;
    } catch {
      return null;
    }
  }

  async saveMeta(taskId: string, meta: CacheMeta): Promise<void> {
    const dir = this.dirOf(taskId);
    await mkdir(dir, { recursive: true });
    const tmp = join(dir, 'meta.json.tmp');
    await writeFile(tmp, JSON.stringify(meta));
    await rename(tmp, join(dir, 'meta.json'));
  }

  /** Store a piece and return what was recorded for it. */
  async writePiece(taskId: string, piece: number, bytes: Uint8Array): Promise<PieceRecord> {
    const path = this.piecePath(taskId, piece);
    await mkdir(this.dirOf(taskId), { recursive: true });
    await writeFile(`${path}.tmp`, bytes);
    await rename(`${path}.tmp`, path);
    const record = { sizeBytes: bytes.length, digest: sha256Hex(bytes) };
    this.remember(taskId, piece, signature(await stat(path), record));
    return record;
  }

  /** The piece's bytes if they still match the record; null when missing, short, long or corrupt. */
  async readVerified(taskId: string, piece: number, record: PieceRecord): Promise<Buffer | null> {
    const bytes = Buffer.allocUnsafe(record.sizeBytes);
    return (await this.readVerifiedInto(taskId, piece, record, bytes)) ? bytes : null;
  }

  /**
   * Read a piece into `target` (exactly record.sizeBytes long) and check it against the record;
   * false when the file is missing, of another size, or its digest differs.
   */
  async readVerifiedInto(taskId: string, piece: number, record: PieceRecord, target: Buffer): Promise<boolean> {
    let handle;
    try {
      handle = await open(this.piecePath(taskId, piece), 'r');
    } catch {
      return false;
    }
    let fileSignature: string;
    try {
      const stats = await handle.stat();
      if (stats.size !== record.sizeBytes) return false;
      fileSignature = signature(stats, record);
      let done = 0;
      while (done < target.length) {
        const { bytesRead } = await handle.read(target, done, target.length - done, done);
        if (bytesRead === 0) return false;
        done += bytesRead;
      }
    } catch {
      return false;
    } finally {
      await handle.close();
    }
    if (this.verified.get(taskId)?.get(piece) === fileSignature) return true;
    if (sha256Hex(target) !== record.digest) {
      this.verified.get(taskId)?.delete(piece);
      return false;
    }
    this.remember(taskId, piece, fileSignature);
    return true;
  }

  private remember(taskId: string, piece: number, fileSignature: string): void {
    if (this.verifiedCount >= VERIFIED_LIMIT) {
      this.verified.clear();
      this.verifiedCount = 0;
    }
    let pieces = this.verified.get(taskId);
    if (!pieces) this.verified.set(taskId, pieces = new Map());
    if (!pieces.has(piece)) this.verifiedCount++;
    pieces.set(piece, fileSignature);
  }

  /** Indices of the recorded pieces that are still intact on disk (unrecorded ones are dropped). */
  async intactPieces(taskId: string, meta: CacheMeta): Promise<number[]> {
    const intact: number[] = [];
    for (let piece = 0; piece < meta.pieceCount; piece++) {
      const record = meta.pieces[piece];
      if (record && (await this.readVerified(taskId, piece, record))) intact.push(piece);
      else meta.pieces[piece] = null;
    }
    if (intact.length < meta.pieceCount) meta.complete = false;
    return intact;
  }

  /** Read a piece file into `target` (exactly the piece's size), unverified. */
  async readPieceInto(taskId: string, piece: number, target: Buffer): Promise<void> {
    const handle = await open(this.piecePath(taskId, piece), 'r');
    try {
      let done = 0;
      while (done < target.length) {
        const { bytesRead } = await handle.read(target, done, target.length - done, done);
        if (bytesRead === 0) throw new Error(`cached piece ${piece} of task ${taskId} is shorter than recorded`);
        done += bytesRead;
      }
    } finally {
      await handle.close();
    }
  }

  /** Read [startByte, endByte) of a spooled file (unknown-length sources are split after the fact). */
  async readRange(path: string, startByte: number, endByte: number): Promise<Buffer> {
    const handle = await open(path, 'r');
    try {
      const bytes = Buffer.alloc(endByte - startByte);
      let done = 0;
      while (done < bytes.length) {
        const { bytesRead } = await handle.read(bytes, done, bytes.length - done, startByte + done);
        if (bytesRead === 0) throw new Error(`spool file ${path} ended at ${startByte + done}, expected ${endByte}`);
        done += bytesRead;
      }
      return bytes;
    } finally {
      await handle.close();
    }
  }

  spoolPath(taskId: string): string {
    return join(this.dirOf(taskId), 'body.spool');
  }

  async remove(taskId: string): Promise<void> {
    this.verifiedCount -= this.verified.get(taskId)?.size ?? 0;
    this.verified.delete(taskId);
    await rm(this.dirOf(taskId), { recursive: true, force: true });
  }
}
