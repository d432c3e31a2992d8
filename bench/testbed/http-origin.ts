/**
 * A source HTTP server for tests, benchmarks and demos (a fixture, not part of any product
 * process): the "origin" a supernode's CDN (or a back-to-source dfget, or dfdaemon's upstream)
 * downloads from.
 *
 * It serves files held in memory or on disk with the behaviour real sources have and the faults
 * they show: an egress cap shared by all responses (a registry behind a thin pipe), single byte ranges (206 / 416, honouring If-Range), ETag and Last-Modified with 304
 * answers to If-None-Match / If-Modified-Since, HEAD, optional Basic auth (401 without
 * credentials, 403 with wrong ones), a switch that turns Range support off, one that hides the
 * length (chunked), one that stalls before answering and one that cuts the body after N bytes.
 * It speaks HTTPS when given a key and certificate. Changing a file's content gives it a new ETag and a later Last-Modified. Every request is
 * counted and logged (bounded), and the body bytes actually written are counted, so tests can
 * assert "the origin sent 1.02 copies" or "one conditional request, answered 304".
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { TokenBucket } from '../../core/token-bucket.ts';
import { sleep } from '../../transport/real-timer.ts';
import { throttle } from '../../transport/throttle.ts';

export interface OriginFileOptions {
  /** Answer Range requests with 206 and advertise `Accept-Ranges: bytes` (default true). */
  acceptRanges?: boolean;
  /** Send the body chunked with no Content-Length (full responses only). */
  hideLength?: boolean;
  /** Require these Basic credentials. */
  auth?: { user: string; password: string };
  /** Cut the connection after this many body bytes of a response. */
  dropAfterBytes?: number;
  /** How many responses to cut (default: every one while dropAfterBytes is set). */
  dropTimes?: number;
  /** Wait this long before answering (timeout tests). */
  stallMs?: number;
}

export type OriginContent = Buffer | { filePath: string };

export interface OriginRequestRecord {
  method: string;
  path: string;
  status: number;
  range?: string;
  ifNoneMatch?: string;
  ifModifiedSince?: string;
  authorization?: string;
  bodyBytes: number;
}

export interface OriginStats {
  requests: number;
  /** Body bytes written to sockets (a cut response counts what went out). */
  bytesSent: number;
  notModified: number;
  rangeRequests: number;
  conditionalRequests: number;
}

interface OriginFile {
  content: OriginContent;
  sizeBytes: number;
  etag: string;
  lastModifiedMs: number;
  options: OriginFileOptions;
  dropsLeft: number;
}

const REQUEST_LOG_LIMIT = 10_000;
/** Bytes per read and write of a body under an egress cap (fine-grained pacing). */
const CHUNK_BYTES = 64 * 1024;
/**
 * Bytes per read and write of a body with no cap: 1 GiB in 64 KiB chunks cost this origin 2.1 s
 * of CPU, in 1 MiB chunks 1.2 s (curl of 1 GiB, three runs each). On a two-core machine the origin
 * competes with what it serves, which a real origin on its own machine does not.
 */
const UNCAPPED_CHUNK_BYTES = 1024 * 1024;

export class HttpOrigin {
  private readonly files = new Map<string, OriginFile>();
  private readonly redirects = new Map<string, string>();
  private version = 0;
  private statsNow: OriginStats = emptyStats();
  private log: OriginRequestRecord[] = [];
  private egress: TokenBucket;

  private constructor(private readonly server: Server, readonly port: number, rateBytesPerSec: number, private readonly scheme: string,
    private readonly host: string) {
    this.egress = new TokenBucket(rateBytesPerSec);
  }

  /**
   * Listen on 127.0.0.1 (port 0 = any free port); `rateBytesPerSec` caps all body bytes (0 = no
   * cap); `tls` (PEM key and certificate) serves HTTPS. `host` listens elsewhere: the calibration
   * testbed runs the origin inside a network namespace, on that namespace's private address.
   */
  static async start(opts: { host?: string; port?: number; rateBytesPerSec?: number; tls?: { key: string; cert: string } } = {}): Promise<HttpOrigin> {
    let origin: HttpOrigin | null = null;
    const handler = (req: IncomingMessage, res: ServerResponse): void => {
      if (!origin) { res.statusCode = 503; res.end(); return; }
      origin.handle(req, res).catch(() => res.destroy());
    };
    const server: Server = opts.tls ? createHttpsServer({ key: opts.tls.key, cert: opts.tls.cert }, handler) : createServer(handler);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
    });
    origin = new HttpOrigin(server, (server.address() as AddressInfo).port, opts.rateBytesPerSec ?? 0, opts.tls ? 'https' : 'http', opts.host ?? '127.0.0.1');
    return origin;
  }

  /** `http://127.0.0.1:PORT` (or https; the `host` it listens on) */
  get baseUrl(): string { return `${this.scheme}://${this.host}:${this.port}`; }
  urlFor(path: string): string { return `${this.baseUrl}${path.startsWith('/') ? path : `/${path}`}`; }

  /**
   * Serve `content` at `path`; putting a path again changes its ETag and Last-Modified (and keeps
   * its options unless new ones are given).
   */
  async put(path: string, content: OriginContent, options?: OriginFileOptions): Promise<void> {
    const sizeBytes = Buffer.isBuffer(content) ? content.length : (await stat(content.filePath)).size;
    const previous = this.files.get(normalise(path));
    const kept = options ?? previous?.options ?? {};
    this.version++;
    // HTTP dates have one-second resolution: keep every version's date distinct and later.
    const nowSec = Math.floor(Date.now() / 1000) * 1000;
    const lastModifiedMs = previous ? Math.max(nowSec, previous.lastModifiedMs + 1000) : nowSec;
    this.files.set(normalise(path), {
      content, sizeBytes, etag: `"v${this.version}-${sizeBytes}"`, lastModifiedMs,
      options: kept, dropsLeft: kept.dropTimes ?? Infinity,
    });
  }

  /** Change the fault switches of a served file without changing its content. */
  setOptions(path: string, options: OriginFileOptions): void {
    const file = this.requireFile(path);
    file.options = options;
    file.dropsLeft = options.dropTimes ?? Infinity;
  }

  /** Change the egress cap (bytes/s, 0 = none) for the bytes still to be sent. */
  setRate(rateBytesPerSec: number): void { this.egress = new TokenBucket(rateBytesPerSec); }

  remove(path: string): void {
    this.files.delete(normalise(path));
    this.redirects.delete(normalise(path));
  }

  /** Answer `path` with a 302 to `location` (a path here or a full URL elsewhere). */
  redirect(path: string, location: string): void { this.redirects.set(normalise(path), location); }

  etagOf(path: string): string { return this.requireFile(path).etag; }

  get stats(): OriginStats { return { ...this.statsNow }; }
  get requests(): readonly OriginRequestRecord[] { return this.log; }
  requestsFor(path: string): OriginRequestRecord[] { return this.log.filter((r) => r.path === normalise(path)); }
  bytesSentFor(path: string): number { return this.requestsFor(path).reduce((sum, r) => sum + r.bodyBytes, 0); }

  /** Start counting afresh: the stats and the request log cover only requests that begin after this. */
  resetStats(): void {
    this.statsNow = emptyStats();
    this.log = [];
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private requireFile(path: string): OriginFile {
    const file = this.files.get(normalise(path));
    if (!file) throw new Error(`origin serves no file at ${path}`);
    return file;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = normalise(new URL(req.url ?? '/', 'http://origin').pathname);
    const record: OriginRequestRecord = {
      method: req.method ?? 'GET', path, status: 0, bodyBytes: 0,
      range: header(req, 'range'), ifNoneMatch: header(req, 'if-none-match'),
      ifModifiedSince: header(req, 'if-modified-since'), authorization: header(req, 'authorization'),
    };
    this.statsNow.requests++;
    if (record.ifNoneMatch !== undefined || record.ifModifiedSince !== undefined) this.statsNow.conditionalRequests++;
    if (record.range !== undefined) this.statsNow.rangeRequests++;
    if (this.log.length < REQUEST_LOG_LIMIT) this.log.push(record);
    const finish = (status: number, headers: Record<string, string> = {}, body = ''): void => {
      record.status = status;
      res.writeHead(status, headers);
      res.end(body);
    };

    const location = this.redirects.get(path);
    if (location !== undefined) return finish(302, { location });
    const file = this.files.get(path);
    if (file?.options.stallMs) await sleep(file.options.stallMs);
    if (req.method !== 'GET' && req.method !== 'HEAD') return finish(405, { allow: 'GET, HEAD' });
    if (!file) return finish(404, { 'content-type': 'text/plain' }, `no such file: ${path}\n`);
    const auth = file.options.auth;
    if (auth) {
      const expected = `Basic ${Buffer.from(`${auth.user}:${auth.password}`).toString('base64')}`;
      if (record.authorization === undefined) return finish(401, { 'www-authenticate': 'Basic realm="origin"' });
      if (record.authorization !== expected) return finish(403);
    }

    const validators: Record<string, string> = {
      etag: file.etag, 'last-modified': new Date(file.lastModifiedMs).toUTCString(),
    };
    if (notModified(file, record)) {
      this.statsNow.notModified++;
      return finish(304, validators);
    }

    const acceptRanges = file.options.acceptRanges ?? true;
    let start = 0;
    let end = file.sizeBytes; // exclusive
    let status = 200;
    const headers: Record<string, string> = { ...validators, 'content-type': 'application/octet-stream' };
    if (acceptRanges) headers['accept-ranges'] = 'bytes';
    const ifRange = header(req, 'if-range');
    if (acceptRanges && record.range !== undefined && (ifRange === undefined || ifRange === file.etag)) {
      const range = parseRange(record.range, file.sizeBytes);
      if (range === 'unsatisfiable') return finish(416, { 'content-range': `bytes */${file.sizeBytes}` });
      if (range !== null) {
        ({ start, end } = range);
        status = 206;
        headers['content-range'] = `bytes ${start}-${end - 1}/${file.sizeBytes}`;
      }
    }
    if (!(file.options.hideLength && status === 200)) headers['content-length'] = String(end - start);
    record.status = status;
    res.writeHead(status, headers);
    if (req.method === 'HEAD') { res.end(); return; }

    let dropAt = Infinity;
    if (file.options.dropAfterBytes !== undefined && file.dropsLeft > 0) {
      file.dropsLeft--;
      dropAt = file.options.dropAfterBytes;
    }
    await this.sendBody(res, file.content, start, end, dropAt, record);
  }

  private async sendBody(res: ServerResponse, content: OriginContent, start: number, end: number, dropAt: number,
    record: OriginRequestRecord): Promise<void> {
    let sent = 0;
    // The counters current when the response began: a response still running across resetStats()
    // does not count in the new ones.
    const stats = this.statsNow;
    const account = (n: number): void => { sent += n; record.bodyBytes += n; stats.bytesSent += n; };
    const chunkBytes = this.egress.unlimited ? UNCAPPED_CHUNK_BYTES : CHUNK_BYTES;
    for await (const chunk of bodyChunks(content, start, end, chunkBytes)) {
      if (res.destroyed) return;
      const room = dropAt - sent;
      const piece = chunk.length > room ? chunk.subarray(0, room) : chunk;
      if (piece.length > 0) {
        await this.pace(piece.length);
        if (res.destroyed) return;
        account(piece.length);
        if (!res.write(piece)) await waitDrain(res);
      }
      if (sent >= dropAt) {
        // Let the bytes written so far leave before cutting, so the client sees a short body.
        await new Promise<void>((resolve) => res.socket ? res.socket.end(resolve) : resolve());
        res.destroy();
        return;
      }
    }
    res.end();
  }

  private pace(bytes: number): Promise<void> {
    return throttle([this.egress], bytes);
  }
}

async function* bodyChunks(content: OriginContent, start: number, end: number, chunkBytes: number): AsyncGenerator<Buffer> {
  if (Buffer.isBuffer(content)) {
    for (let at = start; at < end; at += chunkBytes) yield content.subarray(at, Math.min(at + chunkBytes, end));
    return;
  }
  if (end <= start) return;
  const stream = createReadStream(content.filePath, { start, end: end - 1, highWaterMark: chunkBytes });
  try {
    for await (const chunk of stream) yield chunk as Buffer;
  } finally {
    stream.destroy();
  }
}

function waitDrain(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => { res.off('drain', done); res.off('close', done); resolve(); };
    res.on('drain', done);
    res.on('close', done);
  });
}

/** If-None-Match wins over If-Modified-Since when both are present (RFC 9110 13.2.2). */
function notModified(file: OriginFile, record: OriginRequestRecord): boolean {
  if (record.ifNoneMatch !== undefined) {
    return record.ifNoneMatch.split(',').map((tag) => tag.trim().replace(/^W\//, '')).some((tag) => tag === '*' || tag === file.etag);
  }
  if (record.ifModifiedSince !== undefined) {
    const sinceMs = Date.parse(record.ifModifiedSince);
    return Number.isFinite(sinceMs) && file.lastModifiedMs <= sinceMs;
  }
  return false;
}

/** One `bytes=` range as [start, end); null = ignore the header (multi-range, other units). */
export function parseRange(value: string, sizeBytes: number): { start: number; end: number } | 'unsatisfiable' | null {
  const match = /^bytes=(\d*)-(\d*)$/.exec(value.trim());
  if (!match || (match[1] === '' && match[2] === '')) return null;
  if (match[1] === '') {
    const suffix = Number(match[2]);
    if (suffix === 0) return 'unsatisfiable';
    return { start: Math.max(0, sizeBytes - suffix), end: sizeBytes };
  }
  const start = Number(match[1]);
  const last = match[2] === '' ? sizeBytes - 1 : Math.min(Number(match[2]), sizeBytes - 1);
  if (start >= sizeBytes || last < start) return 'unsatisfiable';
  return { start, end: last + 1 };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

function normalise(path: string): string {
  return path.startsWith('/') ? path : `/${path}`;
}

function emptyStats(): OriginStats {
  return { requests: 0, bytesSent: 0, notModified: 0, rangeRequests: 0, conditionalRequests: 0 };
}
