/**
 * One download's files in `<home>/data/`: the data file that receives verified pieces at their
 * offsets, and beside it a small meta file (plan, per-piece digests, verified pieces). Piece
 * records are saved at most every META_SAVE_INTERVAL_MS (and at once on `flush()`, which every
 * way out of a download calls), not once per piece: a dfget killed at any moment resumes with
 * the pieces recorded up to that interval before, and fetches the few after it again. A piece
 * enters the meta file only after its bytes were written; on resume every listed piece is hashed
 * again and dropped if it no longer matches.
 *
 * Names: `<taskId>-<key of the output path>` (so two outputs of one URL never share a file), and
 * on completion the `.server` backup `<taskId>.server` that the uploader serves after the result
 * moved to its destination (the seed's "backup with a suffix of .server, then move").
 */
import { createHash, randomBytes } from 'node:crypto';
import { constants as fsConstants, promises as fs } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { makeDirs } from '../make-dirs.ts';
import { redactCredentials } from '../redact.ts';
import { setAsideNameOf, type OutputStamp } from '../uploader/control-messages.ts';
import { isDiskFull } from './download-error.ts';
import type { PiecePlan } from '../../core/pieces.ts';
import { pieceRange } from '../../core/pieces.ts';

interface MetaFile {
  version: 1;
  taskId: string;
  /** The source URL with any credentials in it replaced (redact.ts): this file is not a secret store. */
  url: string;
  outputPath: string;
  plan: PiecePlan | null;
  /** `sha256:<hex>` of each verified piece, by index (null = not verified). */
  digests: (string | null)[];
}

/**
 * Longest a written piece waits to be recorded in the meta file (a kill -9 refetches at most the
 * pieces written in this window). Rewriting the meta file costs an open, a write, a close and a
 * rename; per 1 MiB piece that was as many file operations as the piece itself.
 */
export const META_SAVE_INTERVAL_MS = 250;

/** Why a finished download has no `.server` backup (the host does not seed it). */
export interface NoBackup { why: 'disk-full' | 'output-changed' }

export interface ResumeState {
  plan: PiecePlan;
  have: number[];
}

export class TaskStore {
  readonly fileName: string;
  readonly dataPath: string;
  readonly metaPath: string;
  readonly serverPath: string;
  private meta: MetaFile;
  private saving: Promise<void> = Promise.resolve();
  private saveQueued = false;
  /** A save of recorded pieces, due within META_SAVE_INTERVAL_MS. */
  private saveTimer: NodeJS.Timeout | null = null;
  /** The data file's write handle, opened by the first write (writes run several at once). */
  private writer: Promise<fs.FileHandle> | null = null;

  private constructor(readonly dataDir: string, readonly taskId: string, url: string, outputPath: string, previous: MetaFile | null) {
    this.fileName = `${taskId}-${sha256Hex(outputPath).slice(0, 16)}`;
    this.dataPath = join(dataDir, this.fileName);
    this.metaPath = `${this.dataPath}.meta`;
    this.serverPath = join(dataDir, `${taskId}.server`);
    this.meta = previous ?? { version: 1, taskId, url: redactCredentials(url), outputPath, plan: null, digests: [] };
  }

  /** Open the store of (task, output); an earlier run's meta is kept for `resumable()`. */
  static async open(dataDir: string, taskId: string, url: string, outputPath: string): Promise<TaskStore> {
    await makeDirs(dataDir);
    const absOutput = resolve(outputPath);
    const probe = new TaskStore(dataDir, taskId, url, absOutput, null);
    const previous = await readMeta(probe.metaPath);
    if (!previous || previous.taskId !== taskId || previous.outputPath !== absOutput) return probe;
    return new TaskStore(dataDir, taskId, url, absOutput, previous);
  }

  get plan(): PiecePlan | null { return this.meta.plan; }
  get verifiedCount(): number { return this.meta.digests.filter((d) => d !== null).length; }

  /** Pieces of an earlier run still intact on disk, with their plan; null when none. */
  async resumable(): Promise<ResumeState | null> {
    const plan = this.meta.plan;
    if (!plan) return null;
    const handle = await fs.open(this.dataPath, 'r').catch(() => null);
    if (!handle) return null;
    const have: number[] = [];
    try {
      for (let piece = 0; piece < plan.pieceCount; piece++) {
        const digest = this.meta.digests[piece];
        if (!digest) continue;
        const { startByte, endByte } = pieceRange(plan, piece);
        const bytes = Buffer.allocUnsafe(endByte - startByte);
        const { bytesRead } = await handle.read(bytes, 0, bytes.length, startByte);
        if (bytesRead === bytes.length && pieceDigest(bytes) === digest) have.push(piece);
        else this.meta.digests[piece] = null;
      }
    } finally {
      await handle.close();
    }
    return have.length > 0 ? { plan, have } : null;
  }

  /** Size the data file for `plan`; `discardLocal` (or a different plan) forgets every piece. */
  async applyPlan(plan: PiecePlan, discardLocal: boolean): Promise<void> {
    await this.closeWriter();
    const same = this.meta.plan !== null && this.meta.plan.totalBytes === plan.totalBytes
      && this.meta.plan.pieceSizeBytes === plan.pieceSizeBytes;
    if (discardLocal || !same) {
      this.meta.plan = plan;
      this.meta.digests = new Array<string | null>(plan.pieceCount).fill(null);
      await fs.rm(this.dataPath, { force: true });
    }
    const handle = await fs.open(this.dataPath, 'a');
    try {
      const { size } = await handle.stat();
      if (size !== plan.totalBytes) await handle.truncate(plan.totalBytes);
    } finally {
      await handle.close();
    }
    await this.save();
  }

  /**
   * Write verified bytes of `piece`, then record its digest. The meta file is rewritten in the
   * background within META_SAVE_INTERVAL_MS (`flush()` saves at once and waits for it): it may
   * lag the data, never lead it.
   */
  async writePiece(piece: number, startByte: number, bytes: Uint8Array, digest: string): Promise<void> {
    this.writer ??= fs.open(this.dataPath, 'r+');
    const writer = await this.writer;
    let done = 0;
    while (done < bytes.length) {
      const { bytesWritten } = await writer.write(bytes, done, bytes.length - done, startByte + done);
      done += bytesWritten;
    }
    this.meta.digests[piece] = digest;
    this.saveSoon();
  }

  /** Close the data file's write handle (before moving the file, or when the download ends). */
  async closeWriter(): Promise<void> {
    const writer = this.writer;
    this.writer = null;
    await (await writer?.catch(() => null))?.close();
  }

  /** The whole file came from the source: it is complete, with no per-piece digests. */
  async adoptSourceFile(plan: PiecePlan): Promise<void> {
    await this.closeWriter();
    this.meta.plan = plan;
    this.meta.digests = new Array<string | null>(plan.pieceCount).fill(null);
    await this.save();
  }

  isVerified(piece: number): boolean { return typeof this.meta.digests[piece] === 'string'; }

  /** Read `piece` as on disk into `target` (exactly the piece's size). */
  async readPieceInto(piece: number, target: Buffer): Promise<void> {
    const { startByte } = pieceRange(this.meta.plan!, piece);
    const handle = await fs.open(this.dataPath, 'r');
    try {
      let done = 0;
      while (done < target.length) {
        const { bytesRead } = await handle.read(target, done, target.length - done, startByte + done);
        if (bytesRead === 0) throw new Error(`${this.dataPath} is shorter than its plan`);
        done += bytesRead;
      }
    } finally {
      await handle.close();
    }
  }

  /** `sha256:<hex>` of the data file as it is on disk. */
  async fileDigest(): Promise<string> {
    const hash = createHash('sha256');
    const handle = await fs.open(this.dataPath, 'r');
    try {
      for await (const chunk of handle.createReadStream({ highWaterMark: 1024 * 1024 })) hash.update(chunk as Buffer);
    } finally {
      await handle.close();
    }
    return `sha256:${hash.digest('hex')}`;
  }

  /**
   * Move the data file to `outputPath`, then keep the `.server` backup for uploading, and drop
   * the meta. The backup is a second name (hard link) of the output where the filesystem allows
   * it: no byte is copied (a copy of 1 GiB cost 2.4 s of system CPU here, on the download's
   * critical path; `npm run bench:server-copy`). A user may later edit the output in place; the
   * uploader then sees the output's size or modification time differ from `OutputStamp` (taken
   * here, before the move, from the data file no one else writes) and stops seeding it, so an
   * honest host never serves bytes other hosts reject. When the filesystem refuses the link, the
   * backup is a copy of its own (a copy-on-write clone where it can); when the output is on
   * another filesystem, the output gets the copy and the data file itself becomes the backup.
   * Either name appears complete or not at all (a temporary name, then rename), so a crash never
   * leaves a partial file. When the disk has no room for a copy, or the output changed before it
   * was linked, the user still gets the file and this node does not seed it (returns why;
   * `onBackup` is called only once the backup exists, with the stamp when it is a link).
   */
  async finalize(outputPath: string, onBackup: (outputStamp: OutputStamp | null) => void): Promise<NoBackup | null> {
    await this.closeWriter();
    const target = resolve(outputPath);
    await makeDirs(dirname(target));
    const written = await stampOf(this.dataPath);
    let backup: { stamp: OutputStamp | null } | NoBackup;
    if (await renamed(this.dataPath, target)) {
      backup = await this.backUp(target, written);
    } else {
      await copyInto(this.dataPath, target);
      await this.installBackup(this.dataPath);
      backup = { stamp: null };
    }
    if ('stamp' in backup) onBackup(backup.stamp);
    this.cancelSaveSoon();
    await this.saving;
    await fs.rm(this.metaPath, { force: true });
    return 'stamp' in backup ? null : backup;
  }

  /** The backup of `source` (just moved there): a link if it can be, else a copy. */
  private async backUp(source: string, written: OutputStamp): Promise<{ stamp: OutputStamp | null } | NoBackup> {
    const partial = `${this.serverPath}.tmp`;
    try {
      await fs.rm(partial, { force: true });
      if (await linked(source, partial)) {
        await this.installBackup(partial);
        const now = await stampOf(this.serverPath);
        if (now.sizeBytes === written.sizeBytes && now.mtimeNs === written.mtimeNs) return { stamp: written };
        // The output changed between the move and the link: what is there is not what was verified.
        await fs.rm(this.serverPath, { force: true });
        return { why: 'output-changed' };
      }
      await fs.copyFile(source, partial, fsConstants.COPYFILE_FICLONE);
      await this.installBackup(partial);
      return { stamp: null };
    } catch (err) {
      await fs.rm(partial, { force: true });
      if (!isDiskFull(err)) throw err;
      // An older backup of this task may hold other content: it must not be served either.
      await fs.rm(this.serverPath, { force: true });
      return { why: 'disk-full' };
    }
  }

  /**
   * Rename `from` to the `.server` backup. An older backup of the task is first moved aside
   * (SET_ASIDE_NAME) for the uploader to remove: renaming over it would drop its last link here
   * and free its pages inside this download's rename (2.5 s for 1 GiB).
   */
  private async installBackup(from: string): Promise<void> {
    try {
      await fs.rename(this.serverPath, setAsideNameOf(this.serverPath, randomBytes(4).toString('hex')));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    await fs.rename(from, this.serverPath);
  }

  /** Remove this download's files (a full disk: leave the space to the user, not a partial file). */
  async discard(): Promise<void> {
    await this.closeWriter();
    this.cancelSaveSoon();
    await this.saving.catch(() => {});
    for (const path of [this.dataPath, this.metaPath, `${this.metaPath}.tmp`, `${this.serverPath}.tmp`]) await fs.rm(path, { force: true });
  }

  /** Save what is recorded now (if a save is due) and wait for it; rejects if the last save failed. */
  flush(): Promise<void> {
    return this.saveTimer ? this.save() : this.saving;
  }

  private saveSoon(): void {
    if (this.saveTimer || this.saveQueued) return;
    this.saveTimer = setTimeout(() => void this.save().catch(() => {}), META_SAVE_INTERVAL_MS);
    this.saveTimer.unref();
  }

  private cancelSaveSoon(): void {
    if (this.saveTimer) clearTimeout(this.saveTimer);
    this.saveTimer = null;
  }

  /** Coalesce meta writes: at most one running and one queued; each writes the latest state. */
  private save(): Promise<void> {
    this.cancelSaveSoon();
    if (this.saveQueued) return this.saving;
    this.saveQueued = true;
    this.saving = this.saving.catch(() => {}).then(async () => {
      this.saveQueued = false;
      const temp = `${this.metaPath}.tmp`;
      await fs.writeFile(temp, JSON.stringify(this.meta));
      await fs.rename(temp, this.metaPath);
    });
    return this.saving;
  }
}

export function pieceDigest(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

async function readMeta(path: string): Promise<MetaFile | null> {
  try {
    const v = JSON.parse(await fs.readFile(path, 'utf8')) as MetaFile;
    if (v.version !== 1 || typeof v.taskId !== 'string' || !Array.isArray(v.digests)) return null;
    if (v.plan !== null && !(Number.isSafeInteger(v.plan.totalBytes) && Number.isSafeInteger(v.plan.pieceSizeBytes)
      && v.plan.pieceSizeBytes > 0 && v.plan.pieceCount === Math.ceil(v.plan.totalBytes / v.plan.pieceSizeBytes))) return null;
    return v;
  } catch {
    return null;
  }
}

/** Rename `from` to `to`; false when they are on different filesystems (EXDEV). */
async function renamed(from: string, to: string): Promise<boolean> {
  try {
    await fs.rename(from, to);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EXDEV') return false;
    throw err;
  }
}

/** Hard-link `to` to `from`; false when this filesystem (or its mount) has no hard links for it. */
async function linked(from: string, to: string): Promise<boolean> {
  try {
    await fs.link(from, to);
    return true;
  } catch (err) {
    if (LINK_UNSUPPORTED.has((err as NodeJS.ErrnoException).code ?? '')) return false;
    throw err;
  }
}

const LINK_UNSUPPORTED = new Set(['EXDEV', 'EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'EMLINK', 'ENOSYS']);

/** What `OutputStamp` compares: the size and the modification time in ns. */
export async function stampOf(path: string): Promise<OutputStamp> {
  const st = await fs.stat(path, { bigint: true });
  return { sizeBytes: Number(st.size), mtimeNs: st.mtimeNs.toString() };
}

/** Copy `from` to `to` (a clone where the filesystem can) under a temporary name, then rename. */
async function copyInto(from: string, to: string): Promise<void> {
  const partial = `${to}.sdf-partial`;
  try {
    await fs.copyFile(from, partial, fsConstants.COPYFILE_FICLONE);
    await fs.rename(partial, to);
  } catch (err) {
    await fs.rm(partial, { force: true });
    throw err;
  }
}
