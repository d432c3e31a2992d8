/**
 * The CDN's hot path to a source: ranged GETs over plain HTTP/1.1 whose bodies are read straight
 * into the caller's piece buffers (net `onread`), with keep-alive connections per host.
 *
 * Why: node:http reads a socket into a fresh 64 KiB buffer per read, copies every body chunk
 * again in its parser (llhttp on_body) and once more in the stream it is read through; profiled
 * on a cold 1 GiB fetch (`perf record` on the supernode), those copies and the garbage collections
 * the buffers trigger cost more CPU than the SHA-256 of the file. Here the kernel copies the body
 * into the piece buffer and nothing else touches it.
 *
 * Deliberately small: it sends GET, reads the status line and headers (at most 64 KiB), and reads
 * a body delimited by Content-Length. Anything else — a redirect, a body without a length, TLS —
 * is the caller's to hand to node:http (source-client.ts does). A connection is reused only after
 * its body was read to the end; one reused connection that fails before answering is retried once
 * on a new connection (the server may have closed it while idle).
 */
import { connect, type Socket } from 'node:net';

const MAX_HEAD_BYTES = 64 * 1024;
const MAX_IDLE_PER_HOST = 8;

/** Where body bytes go: `room()` is the (non-empty) memory the next read fills; `filled` says how much it did. */
export interface BodySink {
  room(): Buffer;
  /** A promise: read nothing more until it settles (a rejection ends the body with that error). */
  filled(bytes: number): Promise<void> | void;
}

export interface RawResponse {
  status: number;
  headers: Headers;
  /** The body's length (Content-Length), or null when it has none (the caller must not read it here). */
  contentLength: number | null;
  /** Read the whole body into `sink`; resolves with its length. */
  pipeTo(sink: BodySink): Promise<number>;
  /** Drop the body (the connection is closed unless the body was read to its end). */
  discard(): void;
}

export class RawHttpError extends Error {
  constructor(message: string, readonly code: string) { super(message); }
}

class Connection {
  readonly socket: Socket;
  private readonly scratch = Buffer.allocUnsafe(MAX_HEAD_BYTES);
  private window: Buffer = this.scratch;
  private onBytes: (nread: number, buf: Buffer) => boolean = () => this.unexpected();
  private onEnd: (err: Error) => void = () => {};
  /** Whether any byte of the current response arrived (a reused connection that fails before is retried). */
  answered = false;
  reusable = false;

  constructor(readonly key: string, host: string, port: number) {
    this.socket = connect({ host, port, onread: { buffer: () => this.window, callback: (nread: number, buf: Buffer) => this.onBytes(nread, buf) } });
    this.socket.setNoDelay(true);
    this.socket.on('error', (err: NodeJS.ErrnoException) => this.onEnd(new RawHttpError(err.message, err.code ?? 'ECONNRESET')));
    this.socket.on('end', () => this.onEnd(new RawHttpError('the source closed the connection mid-response', 'ECONNRESET')));
    this.socket.on('close', () => this.onEnd(new RawHttpError('the connection to the source closed', 'ECONNRESET')));
  }

  /** Send the request and read the response head; the body waits in the kernel until `pipeTo`. */
  exchange(head: string, signal: AbortSignal): Promise<RawResponse> {
    this.answered = false;
    this.reusable = false;
    let filled = 0;
    return new Promise((resolve, reject) => {
      const onAbort = (): void => this.fail(new RawHttpError('aborted', 'ABORT_ERR'));
      signal.addEventListener('abort', onAbort, { once: true });
      this.onEnd = (err) => { signal.removeEventListener('abort', onAbort); this.fail(err); reject(err); };
      this.window = this.scratch;
      this.onBytes = (nread) => {
        this.answered = true;
        filled += nread;
        let response: RawResponse | null;
        try {
          response = this.parseHead(filled, signal, onAbort);
        } catch (err) {
          this.onEnd(err as Error);
          return false;
        }
        if (response === null) {
          if (filled < this.scratch.length) {
            this.window = this.scratch.subarray(filled);
            return true;
          }
          this.onEnd(new RawHttpError('response head over 64 KiB', 'EHEADTOOLARGE'));
          return false;
        }
        resolve(response);
        return false;
      };
      this.socket.ref();
      this.socket.write(head);
      this.socket.resume();
    });
  }

  private parseHead(filled: number, signal: AbortSignal, onAbort: () => void): RawResponse | null {
    const end = this.scratch.subarray(0, filled).indexOf('\r\n\r\n');
    if (end < 0) return null;
    const lines = this.scratch.subarray(0, end).toString('latin1').split('\r\n');
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0])?.[1] ?? NaN);
    const headers = new Headers();
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      try {
        headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
      } catch {
        // a header Headers refuses (invalid name) is left out
      }
    }
    if (!Number.isInteger(status)) throw new RawHttpError(`malformed status line ${JSON.stringify(lines[0].slice(0, 60))}`, 'EPROTO');
    const lengthText = headers.get('content-length');
    const contentLength = lengthText !== null && /^\d+$/.test(lengthText) && !headers.has('transfer-encoding') ? Number(lengthText) : null;
    const leftover = Buffer.from(this.scratch.subarray(end + 4, filled));
    const keepAlive = !/\bclose\b/i.test(headers.get('connection') ?? '');
    return {
      status, headers, contentLength,
      pipeTo: (sink) => this.pipeBody(sink, contentLength, leftover, keepAlive, signal, onAbort),
      discard: () => {
        signal.removeEventListener('abort', onAbort);
        if (contentLength === 0 && leftover.length === 0 && keepAlive) this.release(); else this.fail(null);
      },
    };
  }

  private async pipeBody(sink: BodySink, length: number | null, leftover: Buffer, keepAlive: boolean,
    signal: AbortSignal, onAbort: () => void): Promise<number> {
    if (length === null) throw new RawHttpError('the response has no Content-Length', 'ENOLENGTH');
    if (leftover.length > length) throw new RawHttpError('the response is longer than its Content-Length', 'EPROTO');
    await this.readBody(sink, length, leftover);
    signal.removeEventListener('abort', onAbort);
    if (keepAlive) this.release(); else this.fail(null);
    return length;
  }

  /**
   * Read the body's `remaining` bytes into the sink's rooms. Node reads into the buffer named
   * after the previous read (onread asks for it when a callback returns), so the next read's
   * room is always chosen inside a callback. After the head, that buffer is the scratch buffer:
   * the first read of the body (like the bytes read with the head) is copied into the rooms
   * (`spill`); every later one lands in its room directly.
   */
  private readBody(sink: BodySink, remaining: number, leftover: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      const prior = this.onEnd;
      this.onEnd = (err) => { prior(err); reject(err); };
      let direct: Buffer | null = null;
      const failWith = (err: Error): void => { this.fail(null); reject(err); };
      /** Choose the next read's buffer; false pauses reading until `wait` settles. */
      const next = (wait: Promise<void> | void): boolean => {
        if (remaining === 0) {
          this.window = this.scratch;
          this.onBytes = () => this.unexpected();
          Promise.resolve(wait).then(() => resolve(), failWith);
          return false;
        }
        const room = sink.room();
        direct = room.length > remaining ? room.subarray(0, remaining) : room;
        this.window = direct;
        if (!wait) return true;
        wait.then(() => this.socket.resume(), failWith);
        return false;
      };
      this.onBytes = (nread, buf) => {
        if (nread > remaining) {
          failWith(new RawHttpError('the response is longer than its Content-Length', 'EPROTO'));
          return false;
        }
        remaining -= nread;
        return next(buf === direct ? sink.filled(nread) : spill(sink, buf.subarray(0, nread)));
      };
      remaining -= leftover.length;
      const wait = spill(sink, leftover);
      if (remaining === 0) {
        next(wait);
        return;
      }
      Promise.resolve(wait).then(() => this.socket.resume(), failWith);
    });
  }

  /** Bytes nobody asked for (an idle connection, or a response longer than announced): not reusable. */
  private unexpected(): boolean {
    this.fail(null);
    return false;
  }

  private release(): void {
    this.onBytes = () => this.unexpected();
    this.onEnd = () => {};
    this.reusable = true;
    this.socket.pause();
    // An idle connection does not keep the process alive.
    this.socket.unref();
  }

  private fail(err: Error | null): void {
    this.reusable = false;
    this.onBytes = () => false;
    if (err === null || !this.socket.destroyed) this.socket.destroy();
  }
}

export class RawHttpClient {
  private readonly idle = new Map<string, Connection[]>();

  /** GET `url` (http: only) with `headers`; resolves once the response head is in. */
  async get(url: URL, headers: Record<string, string>, signal: AbortSignal): Promise<RawResponse> {
    if (url.protocol !== 'http:') throw new RawHttpError(`raw HTTP speaks http: only, not ${url.protocol}`, 'EPROTO');
    const head = `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\n`
      + Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join('') + '\r\n';
    const reused = this.take(url);
    if (reused) {
      try {
        return this.track(reused, await reused.exchange(head, signal));
      } catch (err) {
        if (reused.answered || signal.aborted) throw err;
      }
    }
    const fresh = new Connection(keyOf(url), url.hostname.replace(/^\[|\]$/g, ''), Number(url.port || 80));
    return this.track(fresh, await fresh.exchange(head, signal));
  }

  close(): void {
    for (const conns of this.idle.values()) for (const conn of conns) conn.socket.destroy();
    this.idle.clear();
  }

  /** Give the connection back to the pool once its body was read to the end. */
  private track(conn: Connection, res: RawResponse): RawResponse {
    const giveBack = (): void => {
      if (!conn.reusable || conn.socket.destroyed) return;
      const list = this.idle.get(conn.key) ?? [];
      if (list.length >= MAX_IDLE_PER_HOST) { conn.socket.destroy(); return; }
      list.push(conn);
      this.idle.set(conn.key, list);
      conn.socket.once('close', () => {
        const now = this.idle.get(conn.key);
        if (now) this.idle.set(conn.key, now.filter((c) => c !== conn));
      });
    };
    return {
      ...res,
      pipeTo: async (sink) => {
        const length = await res.pipeTo(sink);
        giveBack();
        return length;
      },
      discard: () => {
        res.discard();
        giveBack();
      },
    };
  }

  private take(url: URL): Connection | null {
    const list = this.idle.get(keyOf(url));
    for (let conn = list?.pop(); conn; conn = list?.pop()) {
      if (!conn.socket.destroyed) return conn;
    }
    return null;
  }
}

/**
 * Copy body bytes that landed outside the rooms (in the scratch buffer) through the sink's rooms;
 * returns the last wait the sink asked for (the sink already moved on to fresh memory).
 */
function spill(sink: BodySink, chunk: Buffer): Promise<void> | void {
  let wait: Promise<void> | void = undefined;
  for (let at = 0; at < chunk.length;) {
    const room = sink.room();
    const take = Math.min(room.length, chunk.length - at);
    chunk.copy(room, 0, at, at + take);
    at += take;
    wait = sink.filled(take) ?? wait;
  }
  return wait;
}

function keyOf(url: URL): string {
  return `${url.hostname}:${url.port || 80}`;
}
