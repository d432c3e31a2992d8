/**
 * Cutting a source's response body into pieces as it arrives, for the CDN (source-fetcher.ts).
 *
 * The body is read into pool buffers one piece at a time; a full piece is handed to `store` and,
 * while it is stored (written, hashed on the hash worker), the next pieces are already being read:
 * stores run one after another, and up to STORE_AHEAD_BYTES of full pieces (at least one) may wait
 * behind the reader, so a busy event loop or disk does not stall the source's TCP stream for a
 * piece time (it slowed the live CDN below its origin link with 256 KiB pieces), and memory stays
 * bounded per stream. When the client reads the body straight into the
 * buffers (`pipeTo`, raw-http.ts), no copy is made; otherwise its chunks are copied in.
 */
import { pieceBytes, type PiecePlan } from '../../core/pieces.ts';
import type { BufferPool } from '../buffer-pool.ts';
import type { BodySink } from './raw-http.ts';

/**
 * A response body: chunks as they come (node:http), or read by the client straight into the
 * memory the sink offers (raw-http.ts).
 */
export type BodyReader = { chunks(): AsyncGenerator<Buffer> } | { pipeTo(sink: BodySink): Promise<number> };

export interface CutOptions {
  plan: PiecePlan;
  /** Pieces [first, end) are in the body, from its first byte; bytes after piece `end` are counted, not stored. */
  first: number;
  end: number;
  /** Whether `piece` should be stored (false: its bytes are read and dropped, e.g. already on record). */
  wanted(piece: number): boolean;
  /** Store a full piece; `bytes` are valid until the returned promise settles. */
  store(piece: number, bytes: Buffer): Promise<void>;
}

/** Read the whole body, storing its pieces; resolves with the body bytes received. */
export async function cutIntoPieces(body: BodyReader, pool: BufferPool, opts: CutOptions): Promise<number> {
  const pipe = new StorePipe(pool, opts);
  try {
    const received = 'pipeTo' in body ? await readDirect(body, pipe) : await readChunks(body.chunks(), pipe);
    await pipe.drain();
    return received;
  } finally {
    await pipe.abandon();
  }
}

/**
 * Full pieces that may wait behind the reader for their store, in bytes (at least one piece). At
 * 8 MiB a 1 GiB file's 12 MiB pieces could not queue at all behind a store (a fresh-page write
 * of 12 MiB takes ~30 ms on this VM): cold 1 GiB downloads took 6.13 s (median of 3) against
 * 5.87 s at 32 MiB, interleaved, and `bench:transport` cold went from 7.85 to 7.06 s.
 */
export const STORE_AHEAD_BYTES = 32 * 1024 * 1024;

/** The piece being filled, and the stores queued behind it. */
class StorePipe {
  piece: number;
  size: number;
  filled = 0;
  buffer: Buffer;
  /** The last store queued (stores run in order, each after the one before). */
  private storing: Promise<void> | null = null;
  /** Stores queued and not settled, oldest first. */
  private readonly queued: Promise<void>[] = [];
  private readonly aheadLimit: number;
  /** The first store that failed: the reader stops at its next full piece. */
  private failed: unknown = null;

  constructor(private readonly pool: BufferPool, private readonly opts: CutOptions) {
    this.piece = opts.first;
    this.size = this.sizeOf(this.piece);
    this.buffer = pool.acquire(opts.plan.pieceSizeBytes);
    this.aheadLimit = Math.max(1, Math.floor(STORE_AHEAD_BYTES / Math.max(1, opts.plan.pieceSizeBytes)));
  }

  get done(): boolean { return this.piece >= this.opts.end; }

  /** The part of the current piece still to fill. */
  get room(): Buffer { return this.buffer.subarray(this.filled, this.size); }

  /**
   * `bytes` more of the current piece were filled; store it when full. Returns a promise only
   * when the reader must wait (a full piece, and more than the allowed stores queued behind it).
   */
  filledBy(bytes: number): Promise<void> | undefined {
    this.filled += bytes;
    if (this.filled < this.size) return undefined;
    const { piece, size } = this;
    const full = this.buffer;
    const wanted = this.opts.wanted(piece);
    this.piece++;
    this.size = this.sizeOf(this.piece);
    this.filled = 0;
    if (!wanted) return undefined;
    this.buffer = this.pool.acquire(this.opts.plan.pieceSizeBytes);
    // Stores run in order; the reader waits only when more than aheadLimit are queued.
    const previous = this.storing;
    const storing = (previous ?? Promise.resolve()).then(() => this.opts.store(piece, full.subarray(0, size)))
      .finally(() => {
        this.pool.release(full);
        this.queued.shift();
      });
    storing.catch((err: unknown) => { this.failed ??= err; });
    this.storing = storing;
    this.queued.push(storing);
    if (this.failed !== null) return Promise.reject(this.failed);
    // The oldest queued store: a failure there (or before it: each store runs after the one before) stops the reader.
    return this.queued.length > this.aheadLimit ? this.queued[0] : undefined;
  }

  /** Wait for the stores queued behind the reader; a failure among them is the fetch's. */
  async drain(): Promise<void> {
    const storing = this.storing;
    this.storing = null;
    await storing;
  }

  /** Leave nothing running (the fetch failed or ended) and give the buffer back. */
  async abandon(): Promise<void> {
    await this.storing?.catch(() => {});
    this.storing = null;
    this.pool.release(this.buffer);
  }

  private sizeOf(piece: number): number {
    return piece < this.opts.end ? pieceBytes(this.opts.plan, piece) : 0;
  }
}

function readDirect(body: { pipeTo(sink: BodySink): Promise<number> }, pipe: StorePipe): Promise<number> {
  return body.pipeTo({
    // Past the last piece the rest of the body is only counted (read into the spare buffer).
    room: () => (pipe.done ? pipe.buffer : pipe.room),
    filled: (bytes) => (pipe.done ? undefined : pipe.filledBy(bytes)),
  });
}

async function readChunks(chunks: AsyncGenerator<Buffer>, pipe: StorePipe): Promise<number> {
  let received = 0;
  for await (const chunk of chunks) {
    received += chunk.length;
    let at = 0;
    while (at < chunk.length && !pipe.done) {
      const room = pipe.room;
      const take = Math.min(room.length, chunk.length - at);
      chunk.copy(room, 0, at, at + take);
      at += take;
      await pipe.filledBy(take);
    }
  }
  return received;
}
