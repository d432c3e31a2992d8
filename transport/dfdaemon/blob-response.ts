/**
 * The client side of one blob answer. Bytes may come from several places in turn (the local
 * repo, the P2P download's verified prefix, then a direct upstream pull resuming at the byte
 * where P2P stopped), but the client sees one body, hashed as it goes. Only when the last byte
 * is written and the SHA-256 equals the requested digest does the response end cleanly; any
 * mismatch or failure after the headers went out destroys the socket, so the client sees a
 * broken transfer, never a clean end with bad bytes. With a Content-Length, a client that got
 * every byte considers the body complete whatever happens to the socket next, so the blob's last
 * byte is held back until the digest over the whole body has been checked.
 */
import { createHash, type Hash } from 'node:crypto';
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { registryErrorBody } from './routes.ts';

const EMPTY_SHA256 = 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

export class BlobResponder {
  private readonly hash: Hash = createHash('sha256');
  private sentBytes = 0;
  private totalBytes: number | null = null;
  private closed = false;
  private heldBack: Buffer | null = null;

  constructor(private readonly res: ServerResponse, readonly digest: string, private readonly headers: OutgoingHttpHeaders) {
    res.once('close', () => { this.closed = true; });
  }

  get bytesSent(): number { return this.sentBytes; }
  get headersSent(): boolean { return this.res.headersSent; }
  /** The client went away; stop producing bytes for it. */
  get clientGone(): boolean { return this.closed && !this.res.writableFinished; }

  /** Send the status line once the size is known; a later source must agree with it. */
  start(totalBytes: number): void {
    if (this.totalBytes !== null) {
      if (this.totalBytes !== totalBytes) throw new Error(`blob ${this.digest} changed size from ${this.totalBytes} to ${totalBytes} bytes mid-transfer`);
      return;
    }
    // An empty body cannot hold a byte back: check it before promising it.
    if (totalBytes === 0 && this.digest !== EMPTY_SHA256) throw new Error(`blob ${this.digest} cannot be empty`);
    this.totalBytes = totalBytes;
    this.res.writeHead(200, {
      ...this.headers,
      'content-length': String(totalBytes),
      'content-type': 'application/octet-stream',
      'docker-content-digest': this.digest,
      'docker-distribution-api-version': 'registry/2.0',
    });
  }

  /** Write the next bytes (in order), waiting while the client's socket is full. */
  async write(chunk: Buffer): Promise<void> {
    if (this.totalBytes === null) throw new Error('BlobResponder.write before start');
    if (this.closed) throw new Error('client closed the connection');
    if (this.sentBytes + chunk.length > this.totalBytes) throw new Error(`blob ${this.digest} is longer than its ${this.totalBytes} bytes`);
    this.hash.update(chunk);
    this.sentBytes += chunk.length;
    const last = this.sentBytes === this.totalBytes;
    if (last) this.heldBack = chunk.subarray(chunk.length - 1);
    const toSend = last ? chunk.subarray(0, chunk.length - 1) : chunk;
    if (toSend.length > 0 && !this.res.write(toSend)) {
      await new Promise<void>((resolve) => {
        const done = (): void => { this.res.off('drain', done); this.res.off('close', done); resolve(); };
        this.res.on('drain', done);
        this.res.on('close', done);
      });
    }
  }

  get complete(): boolean { return this.totalBytes !== null && this.sentBytes === this.totalBytes; }

  /** End cleanly if every byte arrived and the digest matches; otherwise break the transfer. */
  finish(): { ok: true } | { ok: false; reason: string } {
    if (!this.complete) {
      const reason = `blob ${this.digest} ended after ${this.sentBytes} of ${this.totalBytes} bytes`;
      this.res.destroy(new Error(reason));
      return { ok: false, reason };
    }
    const actual = `sha256:${this.hash.digest('hex')}`;
    if (actual !== this.digest) {
      const reason = `blob ${this.digest} arrived with digest ${actual}; transfer aborted`;
      this.res.destroy(new Error(reason));
      return { ok: false, reason };
    }
    this.res.end(this.heldBack ?? undefined);
    return { ok: true };
  }

  /** Give up: a registry-style 502 if nothing was sent yet, else a broken connection. */
  fail(message: string): void {
    if (this.res.headersSent) {
      this.res.destroy(new Error(message));
      return;
    }
    this.res.writeHead(502, { 'content-type': 'application/json', 'docker-distribution-api-version': 'registry/2.0' });
    this.res.end(registryErrorBody('UNAVAILABLE', `dfdaemon could not fetch blob ${this.digest}: ${message}`));
  }
}
