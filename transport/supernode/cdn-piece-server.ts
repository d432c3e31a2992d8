/**
 * What the supernode serves as a special peer: pieces of its CDN cache. The data plane
 * (transport/data-plane.ts, a core `Uploader` configured by `supernodeUploaderConfig`:
 * `supernodeUpLimit` slots, `peerDownLimit` per requester, never unlists, never exits) decides
 * whether a request is served; this reads the piece (re-verified by the CDN) straight into a
 * reused frame buffer and sends it within `--limit-out`.
 */
import type { WebSocket } from 'ws';
import type { CoreConfig } from '../../core/config.ts';
import type { MachineFault } from '../../core/runtime.ts';
import { supernodeUploaderConfig } from '../../core/settings.ts';
import { TokenBucket } from '../../core/token-bucket.ts';
import type { Cdn } from '../cdn/cdn.ts';
import { UploaderDataPlane } from '../data-plane.ts';
import { throttle } from '../throttle.ts';
import { pieceFramePrefix } from '../wire.ts';
import type { BufferPool } from './buffer-pool.ts';
import type { LogLevel } from './log.ts';

export interface CdnPieceServerOptions {
  core: CoreConfig;
  limitOutBytesPerSec: number;
  cdn: Cdn;
  pool: BufferPool;
  log: (level: LogLevel, message: string) => void;
  onFault(fault: MachineFault): void;
}

export class CdnPieceServer {
  private readonly plane: UploaderDataPlane;
  private readonly limitOut: TokenBucket;
  servedBytes = 0;
  piecesServed = 0;

  constructor(private readonly opts: CdnPieceServerOptions) {
    this.plane = new UploaderDataPlane('supernode uploader', supernodeUploaderConfig(opts.core), {
      serve: (connId, requestId, taskId, piece) => void this.serve(connId, requestId, taskId, piece),
      unlisted: () => {},
      idle: () => {},
      onFault: opts.onFault,
    });
    this.limitOut = new TokenBucket(opts.limitOutBytesPerSec);
  }

  get activeUploads(): number { return this.plane.activeUploads; }
  get connections(): number { return this.plane.connections; }
  get piecesRefused(): number { return this.plane.refusedRequests; }
  get badFrames(): number { return this.plane.badFrames; }
  sockets(): WebSocket[] { return this.plane.sockets(); }

  /** The CDN stored `piece` of a task of `pieceCount` pieces. */
  stored(taskId: string, pieceCount: number, piece: number): void {
    this.plane.apply({ kind: 'list-task', taskId, pieceCount });
    this.plane.apply({ kind: 'have-piece', taskId, piece });
  }

  dropped(taskId: string): void {
    this.plane.apply({ kind: 'unlist-task', taskId });
  }

  accept(ws: WebSocket): void {
    this.plane.accept(ws, (err) => this.opts.log('debug', `connection error: ${err.message}`));
  }

  close(): void {
    this.plane.close();
  }

  private async serve(connId: string, requestId: number, taskId: string, piece: number): Promise<void> {
    let frame: Buffer | null = null;
    let prefixBytes = 0;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      if (frame) this.opts.pool.release(frame);
      this.plane.finished(connId, requestId);
    };
    try {
      // The piece is read straight into a reused frame buffer behind its header: no copy, no fresh memory.
      const bytes = await this.opts.cdn.servePiece(taskId, piece, (sizeBytes) => {
        const prefix = pieceFramePrefix({ kind: 'piece-data', requestId, taskId, piece, sizeBytes });
        prefixBytes = prefix.length;
        frame = this.opts.pool.acquire(prefixBytes + sizeBytes);
        prefix.copy(frame, 0);
        return frame.subarray(prefixBytes, prefixBytes + sizeBytes);
      });
      if (!this.plane.socket(connId)) return release();
      if (!bytes || !frame) {
        this.plane.refuse(connId, requestId, 'missing');
        return release();
      }
      await throttle([this.limitOut], bytes.length);
      this.send(connId, (frame as Buffer).subarray(0, prefixBytes + bytes.length), bytes.length, release);
    } catch (err) {
      this.opts.log('error', `serving piece ${piece} of task ${taskId.slice(0, 12)} failed: ${(err as Error).message}`);
      release();
    }
  }

  private send(connId: string, frame: Buffer, pieceBytes: number, release: () => void): void {
    const ws = this.plane.socket(connId);
    if (!ws) return release();
    // A peer that stops reading would hold an upload slot forever: cut it off after the time a
    // piece may take, which also frees the slot (the send then fails).
    const stalled = setTimeout(() => ws.terminate(), this.opts.core.pieceTimeoutMs);
    ws.send(frame, { binary: true }, (err) => {
      clearTimeout(stalled);
      if (!err) {
        this.servedBytes += pieceBytes;
        this.piecesServed++;
      }
      release();
    });
  }
}
