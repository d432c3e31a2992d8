/**
 * HTTP(S) requests to a task's source on behalf of the CDN: the task's own headers (credentials)
 * plus ours, redirects followed (credentials only to the same host), no decompression (byte ranges must mean bytes of the file), an idle
 * timeout on the answer and on every body read, the supernode's input limit applied to every
 * chunk, and a count of the bytes that came from sources.
 *
 * Failures are `SourceError`s that say whether trying again can help: a cut connection or a
 * timeout can, a 404 or a 401 cannot. A cancelled request (the task was dropped) throws
 * `CancelledError`, which callers let pass silently.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { TokenBucket } from '../../core/token-bucket.ts';
import { CancelledError, monotonicNowMs, sleep } from '../real-timer.ts';
import { throttle } from '../throttle.ts';
import { RawHttpClient, type BodySink, type RawResponse } from './raw-http.ts';

export { CancelledError } from '../real-timer.ts';

export class SourceError extends Error {
  constructor(message: string, readonly retryable: boolean, readonly status?: number) {
    super(message);
  }
}

export interface SourceResponse {
  status: number;
  headers: Headers;
  /** Body chunks, paced by the input limit; each read is under the idle timeout. */
  chunks(): AsyncGenerator<Buffer>;
  /** Drop the body without reading it. */
  discard(): Promise<void>;
}

/** A ranged GET's answer read by raw-http.ts: its body goes straight into the memory a sink offers. */
export interface RawSourceResponse {
  status: number;
  headers: Headers;
  /** Read the whole body into `sink` (paced by the input limit, under the idle timeout); resolves with its length. */
  pipeTo(sink: BodySink): Promise<number>;
  discard(): Promise<void>;
}

/** Headers we set ourselves or that fetch refuses; a task's copies are dropped. */
const OWN_HEADERS = new Set([
  'host', 'connection', 'content-length', 'transfer-encoding', 'keep-alive', 'upgrade', 'expect', 'te', 'trailer',
  'proxy-connection', 'range', 'if-range', 'if-none-match', 'if-modified-since', 'accept-encoding',
]);

export interface SourceClientOptions {
  /** No answer or no body bytes for this long fails the request (retryable). */
  timeoutMs: number;
  limitIn: TokenBucket;
}

const MAX_REDIRECTS = 5;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
/** URLs remembered as not readable by raw HTTP (bounded: a supernode runs for months). */
const MAX_NOT_RAW = 10_000;
/** Bodies this small are drained so the connection goes back to the pool; larger ones cut it. */
const DRAIN_LIMIT_BYTES = 64 * 1024;

/**
 * node:http rather than fetch: on loopback fetch's wasm parser and web streams cost about a
 * second per 256 MiB (profiled), which is the whole budget of a CDN that must keep up with a
 * plain download.
 */
export class SourceClient {
  bytesFromSource = 0;
  requests = 0;
  private readonly httpAgent = new HttpAgent({ keepAlive: true, maxSockets: 64 });
  private readonly httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: 64 });
  private readonly raw = new RawHttpClient();
  /** URLs whose ranged GETs raw HTTP cannot read (a redirect, no length): node:http fetches them. */
  private readonly notRaw = new Set<string>();

  constructor(private readonly opts: SourceClientOptions) {}

  /**
   * A ranged GET on the CDN's hot path: over raw HTTP (raw-http.ts: the body lands in the piece
   * buffers, no copies) when the source is plain http and answers with a length; through `get`
   * otherwise (https, a redirect, a body without a length — the request is then made again).
   */
  async getRange(url: string, taskHeaders: Record<string, string>, extraHeaders: Record<string, string>,
    signal: AbortSignal): Promise<SourceResponse | RawSourceResponse> {
    if (!url.startsWith('http:') || this.notRaw.has(url)) return this.get(url, taskHeaders, extraHeaders, signal);
    if (signal.aborted) throw new CancelledError();
    const idle = new IdleAbort(signal, this.opts.timeoutMs, url);
    this.requests++;
    let res: RawResponse;
    try {
      res = await this.raw.get(new URL(url), requestHeaders(taskHeaders, extraHeaders), idle.signal);
    } catch (err) {
      idle.done();
      throw idle.translate(err, `cannot reach the source ${url}`);
    }
    const readable = res.contentLength !== null && !(REDIRECT_STATUSES.has(res.status) && res.headers.has('location'));
    if (!readable) {
      res.discard();
      idle.done();
      if (this.notRaw.size < MAX_NOT_RAW) this.notRaw.add(url);
      return this.get(url, taskHeaders, extraHeaders, signal);
    }
    idle.touch();
    return {
      status: res.status,
      headers: res.headers,
      pipeTo: async (sink) => {
        let bodyLeft = res.contentLength!;
        try {
          return await res.pipeTo({ room: () => sink.room(), filled: (bytes) => this.received(bytes, idle, signal, sink, (bodyLeft -= bytes) <= 0) });
        } catch (err) {
          throw idle.translate(err, `the source ${url} broke off the transfer`);
        } finally {
          idle.done();
        }
      },
      discard: async () => {
        idle.done();
        res.discard();
      },
    };
  }

  /**
   * Body bytes arrived: keep the idle timer fresh, count them, pace by the input limit. The last
   * bytes of a body are charged but not waited for: the next request pays the debt, and this
   * response (its pieces, the CDN's end of the file) is not held back by a pause after its end
   * (up to a read's worth at the limit: 0.5 s at 4 MB/s).
   */
  private received(bytes: number, idle: IdleAbort, signal: AbortSignal, sink: BodySink, last: boolean): Promise<void> | void {
    idle.touch();
    this.bytesFromSource += bytes;
    const limit = this.opts.limitIn;
    let waitMs = 0;
    if (!limit.unlimited) {
      const nowMs = monotonicNowMs();
      limit.consume(nowMs, bytes);
      if (!last) waitMs = limit.delayMs(nowMs, 0);
    }
    const next = sink.filled(bytes);
    if (waitMs <= 0) return next;
    return Promise.all([next, sleep(Math.ceil(waitMs), signal)]).then(() => undefined);
  }

  async get(url: string, taskHeaders: Record<string, string>, extraHeaders: Record<string, string>,
    signal: AbortSignal): Promise<SourceResponse> {
    if (signal.aborted) throw new CancelledError();
    const headers = requestHeaders(taskHeaders, extraHeaders);
    const idle = new IdleAbort(signal, this.opts.timeoutMs, url);
    this.requests++;
    let res: IncomingMessage;
    try {
      res = await this.send(url, headers, idle.signal, MAX_REDIRECTS);
    } catch (err) {
      idle.done();
      throw idle.translate(err, `cannot reach the source ${url}`);
    }
    idle.touch();
    const client = this;
    return {
      status: res.statusCode ?? 0,
      headers: toHeaders(res),
      async *chunks() {
        try {
          for await (const chunk of res) {
            idle.touch();
            await client.pace((chunk as Buffer).length, signal);
            client.bytesFromSource += (chunk as Buffer).length;
            yield chunk as Buffer;
          }
        } catch (err) {
          throw idle.translate(err, `the source ${url} broke off the transfer`);
        } finally {
          idle.done();
          if (!res.complete) res.destroy();
        }
      },
      async discard() {
        idle.done();
        if (Number(res.headers['content-length'] ?? Infinity) <= DRAIN_LIMIT_BYTES) res.resume(); else res.destroy();
      },
    };
  }

  /** One request, following redirects; credentials are not forwarded to another host. */
  private send(url: string, headers: Record<string, string>, signal: AbortSignal, redirectsLeft: number): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const target = new URL(url);
      const secure = target.protocol === 'https:';
      if (!secure && target.protocol !== 'http:') {
        reject(new SourceError(`unsupported URL scheme ${target.protocol} in ${url}; sources are http:// or https://`, false));
        return;
      }
      const req = (secure ? httpsRequest : httpRequest)(target, { headers, agent: secure ? this.httpsAgent : this.httpAgent, signal }, (res) => {
        const status = res.statusCode ?? 0;
        const location = res.headers.location;
        if (!REDIRECT_STATUSES.has(status) || !location) { resolve(res); return; }
        res.resume();
        if (redirectsLeft <= 0) {
          reject(new SourceError(`the source ${url} redirected more than ${MAX_REDIRECTS} times`, false, status));
          return;
        }
        const next = new URL(location, target);
        const nextHeaders = next.host === target.host ? headers : withoutCredentials(headers);
        this.send(next.href, nextHeaders, signal, redirectsLeft - 1).then(resolve, reject);
      });
      req.on('error', reject);
      req.end();
    });
  }

  private pace(bytes: number, signal: AbortSignal): Promise<void> {
    return throttle([this.opts.limitIn], bytes, signal);
  }
}

/** The task's headers (less the ones we set) and ours. */
function requestHeaders(taskHeaders: Record<string, string>, extraHeaders: Record<string, string>): Record<string, string> {
  const headers: Record<string, string> = { 'accept-encoding': 'identity' };
  for (const [name, value] of Object.entries(taskHeaders)) {
    if (!OWN_HEADERS.has(name.toLowerCase())) headers[name] = value;
  }
  return Object.assign(headers, extraHeaders);
}

function withoutCredentials(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !['authorization', 'cookie'].includes(name.toLowerCase())));
}

function toHeaders(res: IncomingMessage): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(res.headers)) {
    if (Array.isArray(value)) for (const item of value) headers.append(name, item);
    else if (value !== undefined) headers.set(name, value);
  }
  return headers;
}

/** Aborts a request when its caller cancels or when nothing arrives for `timeoutMs`. */
class IdleAbort {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private timedOut = false;
  private readonly onOuterAbort = (): void => this.controller.abort();

  constructor(private readonly outer: AbortSignal, private readonly timeoutMs: number, private readonly url: string) {
    outer.addEventListener('abort', this.onOuterAbort, { once: true });
    this.timer = setTimeout(() => { this.timedOut = true; this.controller.abort(); }, timeoutMs);
  }

  get signal(): AbortSignal { return this.controller.signal; }
  touch(): void { this.timer.refresh(); }

  done(): void {
    clearTimeout(this.timer);
    this.outer.removeEventListener('abort', this.onOuterAbort);
  }

  translate(err: unknown, what: string): Error {
    if (this.outer.aborted) return new CancelledError();
    if (this.timedOut) return new SourceError(`the source ${this.url} sent nothing for ${this.timeoutMs} ms; check that it is up, or raise --source-timeout`, true);
    if (err instanceof SourceError || err instanceof CancelledError) return err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ERR_INVALID_CHAR' || code === 'ERR_INVALID_HTTP_TOKEN') return new SourceError(`a request header is invalid: ${(err as Error).message}`, false);
    return new SourceError(`${what} (${code ?? (err as Error).message})`, true);
  }
}

/** What a source's status means for the user, with what to do about it. */
export function statusError(status: number, url: string): SourceError {
  switch (status) {
    case 401: return new SourceError(`the source ${url} needs credentials (HTTP 401); pass them with --header "Authorization: ..."`, false, status);
    case 403: return new SourceError(`the source ${url} refused access (HTTP 403); check the credentials given with --header`, false, status);
    case 404: return new SourceError(`the source ${url} does not exist (HTTP 404); check the URL`, false, status);
    case 410: return new SourceError(`the source ${url} is gone (HTTP 410); check the URL`, false, status);
    default:
      return new SourceError(`the source ${url} answered HTTP ${status}`, status >= 500 || status === 408 || status === 429, status);
  }
}
