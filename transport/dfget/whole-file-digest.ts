/**
 * The whole-file digests of a download, computed as the verified prefix grows (pieces arrive
 * nearly in order) on the hash worker, so finishing a large file does not stall on hashing it all
 * at the end (transport/prefix-hash.ts).
 *
 * SHA-256 is what the download reports. When the supernode's CDN gives the file's digest and the
 * user named no `--digest`, it is not computed here: every piece matched a digest from that same
 * CDN pass, so the file's digest is the CDN's. A download whose plan came before the CDN had the
 * whole file (`deferSha256`) waits for it: the supernode sends it when the CDN finishes
 * (`learn`, the core's `file-digest` effect), about when the last piece can be fetched: a download
 * that finished first gives it up to the time hashing would take (LATE_DIGEST_BYTES_PER_MS), then
 * reads the file back and hashes it, taking whichever comes first (the supernode was lost, or is
 * older, or slow). Hashing as the pieces land cost each such download one more SHA-256 pass over every byte.
 * MD5 (`--md5`, Dragonfly's digest kind) is only ever computed here: no CDN knows it.
 */
import type { PiecePlan } from '../../core/pieces.ts';
import { pieceBytes } from '../../core/pieces.ts';
import type { HashAlgorithm } from '../hash-worker.ts';
import { PrefixHash } from '../prefix-hash.ts';
import { piecePool } from './piece-pool.ts';
import type { TaskStore } from './task-store.ts';

export interface FileDigests {
  /** `sha256:<hex>` */
  sha256: string;
  /** Lowercase hex, when it was asked for. */
  md5?: string;
}

/** Waiting for the CDN's digest is given as long as hashing this many bytes per ms would take, at most LATE_DIGEST_MAX_WAIT_MS. */
const LATE_DIGEST_BYTES_PER_MS = 1_000_000;
const LATE_DIGEST_MIN_WAIT_MS = 50;
const LATE_DIGEST_MAX_WAIT_MS = 1_000;

export class WholeFileDigest {
  /** Set while `result` waits for the CDN's digest. */
  private onLearn: ((fileDigest: string) => void) | null = null;
  private prefix: PrefixHash | null = null;
  private plan: PiecePlan | null = null;
  private algorithms: HashAlgorithm[] = [];
  private cdnDigest: string | null = null;

  /**
   * `deferSha256`: the CDN's digest may come after the plan (a P2P download with no `--digest`):
   * do not hash SHA-256 as pieces land.
   */
  constructor(private readonly store: TaskStore, private readonly md5Wanted = false, private readonly deferSha256 = false) {}

  /** A new plan (the first, or the source changed): start over. */
  reset(plan: PiecePlan, cdnDigest: string | null): void {
    this.prefix?.drop();
    this.plan = plan;
    this.cdnDigest = cdnDigest;
    this.algorithms = [...(cdnDigest === null && !this.deferSha256 ? ['sha256' as const] : []), ...(this.md5Wanted ? ['md5' as const] : [])];
    this.prefix = this.prefixOf(plan, this.algorithms);
  }

  /** The CDN's digest of this plan's file arrived after the plan (only kept when hashing was deferred). */
  learn(fileDigest: string): void {
    if (!this.plan || !this.deferSha256 || this.cdnDigest !== null) return;
    this.cdnDigest = fileDigest;
    this.onLearn?.(fileDigest);
  }

  /** Whether the file's SHA-256 comes from the CDN rather than from hashing it here. */
  get fromCdn(): boolean { return this.cdnDigest !== null; }

  /**
   * `justWritten` is verified and on disk: hash as far as the prefix now reaches. Resolves once
   * its bytes are no longer needed.
   */
  advance(justWritten?: { piece: number; bytes: Buffer }): Promise<void> {
    if (!this.prefix) return Promise.resolve();
    return justWritten ? this.prefix.offer(justWritten.piece, justWritten.bytes) : this.prefix.advance();
  }

  /** The finished file's digests (hashing whatever the prefix did not cover). */
  async result(): Promise<FileDigests> {
    if (!this.prefix || !this.plan) throw new Error('the whole-file digest has no plan');
    const hex = await this.prefix.hex();
    const of = (algorithm: HashAlgorithm): string | undefined => hex[this.algorithms.indexOf(algorithm)];
    const md5 = of('md5');
    let sha256 = this.cdnDigest ?? (of('sha256') !== undefined ? `sha256:${of('sha256')}` : null);
    sha256 ??= await this.lateSha256(this.plan);
    return { sha256, ...(md5 !== undefined ? { md5 } : {}) };
  }

  /** Deferred and not here yet: the CDN's digest, or the file read back and hashed, whichever is first. */
  private lateSha256(plan: PiecePlan): Promise<string> {
    const waitMs = Math.min(LATE_DIGEST_MAX_WAIT_MS, Math.max(LATE_DIGEST_MIN_WAIT_MS, plan.totalBytes / LATE_DIGEST_BYTES_PER_MS));
    return new Promise<string>((resolve, reject) => {
      let settled = false;
      let hashing: PrefixHash | null = null;
      const settle = (digest: string | null, err?: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.onLearn = null;
        hashing?.drop();
        if (digest !== null) resolve(digest);
        else reject(err);
      };
      const timer = setTimeout(() => {
        hashing = this.prefixOf(plan, ['sha256']);
        hashing.hex().then((hex) => settle(`sha256:${hex[0]}`), (err: Error) => settle(null, err));
      }, waitMs);
      this.onLearn = (fileDigest) => settle(fileDigest);
    });
  }

  private prefixOf(plan: PiecePlan, algorithms: HashAlgorithm[]): PrefixHash {
    return new PrefixHash({
      pieceCount: plan.pieceCount,
      sizeOf: (piece) => pieceBytes(plan, piece),
      isReady: (piece) => this.store.isVerified(piece),
      readBack: (piece, into) => this.store.readPieceInto(piece, into),
    }, algorithms, piecePool);
  }
}
