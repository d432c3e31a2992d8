/**
 * HTTP(S) requests to a task's source on behalf of the CDN: the task's own headers (credentials)
 * plus ours, no transparent decompression (byte ranges must mean bytes of the file), an idle
 * timeout on the answer and on every body read, the supernode's input limit applied to every
 * chunk, and a count of the bytes that came from sources.
 *
 * Failures are `SourceError`s that say whether trying again can help: a cut connection or a
 * timeout can, a 404 or a 401 cannot. A cancelled request (the task was dropped) throws
 * `CancelledError`, which callers let pass silently.
 */
import { performance } from 'node:perf_hooks';
import type { TokenBucket } from '../../core/token-bucket.ts';

export class SourceError extends Error {
  constructor(message: string, readonly retryable: boolean, readonly status?: number) {
    super(message);
  }
}

export class CancelledError extends Error {}

export interface SourceResponse {
  status: number;
  headers: Headers;
  /** Body chunks, paced by the input limit; each read is under the idle timeout. */
  chunks(): AsyncGenerator<Buffer>;
  /**
   * The whole body into `target`; returns how many bytes came. More than fits is an error (a
   * source must not flood the cache).
   */
  readInto(target: Buffer): Promise<number>;
  /** Drop the body without reading it. */
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

export class SourceClient {
  bytesFromSource = 0;
  requests = 0;

  constructor(private readonly opts: SourceClientOptions) {}

  async get(url: string, taskHeaders: Record<string, string>, extraHeaders: Record<string, string>,
    signal: AbortSignal): Promise<SourceResponse> {
    if (signal.aborted) throw new CancelledError('cancelled');
    const headers: Record<string, string> = { 'accept-encoding': 'identity' };
    for (const [name, value] of Object.entries(taskHeaders)) {
      if (!OWN_HEADERS.has(name.toLowerCase())) headers[name] = value;
    }
    Object.assign(headers, extraHeaders);
    const idle = new IdleAbort(signal, this.opts.timeoutMs, url);
    this.requests++;
    let res: Response;
    try {
      res = await fetch(url, { headers, signal: idle.signal, redirect: 'follow' });
    } catch (err) {
      idle.done();
      throw idle.translate(err, `cannot reach the source ${url}`);
    }
    idle.touch();
    const client = this;
    const response: SourceResponse = {
      status: res.status,
      headers: res.headers,
      async *chunks() {
        if (!res.body) { idle.done(); return; }
        const reader = res.body.getReader();
        try {
          for (;;) {
            let step: { done: true; value?: undefined } | { done: false; value: Uint8Array };
            try {
              step = await reader.read();
            } catch (err) {
              throw idle.translate(err, `the source ${url} broke off the transfer`);
            }
            if (step.done) return;
            idle.touch();
            const chunk = Buffer.from(step.value.buffer, step.value.byteOffset, step.value.byteLength);
            await client.pace(chunk.length, signal);
            client.bytesFromSource += chunk.length;
            yield chunk;
          }
        } finally {
          idle.done();
          reader.cancel().catch(() => undefined);
        }
      },
      async readInto(target: Buffer) {
        let filled = 0;
        for await (const chunk of response.chunks()) {
          if (filled + chunk.length > target.length) {
            throw new SourceError(`the source ${url} sent more than the ${target.length} bytes asked for`, true, res.status);
          }
          chunk.copy(target, filled);
          filled += chunk.length;
        }
        return filled;
      },
      async discard() {
        idle.done();
        await res.body?.cancel().catch(() => undefined);
      },
    };
    return response;
  }

  private async pace(bytes: number, signal: AbortSignal): Promise<void> {
    const waitMs = this.opts.limitIn.delayMs(performance.now(), bytes);
    if (waitMs > 0) await sleep(waitMs, signal);
    this.opts.limitIn.consume(performance.now(), bytes);
  }
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
    if (this.outer.aborted) return new CancelledError('cancelled');
    if (this.timedOut) return new SourceError(`the source ${this.url} sent nothing for ${this.timeoutMs} ms; check that it is up, or raise --source-timeout`, true);
    if (err instanceof SourceError || err instanceof CancelledError) return err;
    if (err instanceof TypeError && /header/i.test(err.message)) return new SourceError(`a request header is invalid: ${err.message}`, false);
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    return new SourceError(`${what} (${cause?.code ?? cause?.message ?? (err as Error).message})`, true);
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) { reject(new CancelledError('cancelled')); return; }
    const onAbort = (): void => { clearTimeout(timer); reject(new CancelledError('cancelled')); };
    const timer = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(); }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** `bytes START-END/TOTAL` → numbers; TOTAL may be `*` (unknown) → null. */
export function parseContentRange(value: string | null): { startByte: number; endByte: number; totalBytes: number | null } | null {
  const match = value ? /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(value.trim()) : null;
  if (!match) return null;
  return {
    startByte: Number(match[1]),
    endByte: Number(match[2]) + 1,
    totalBytes: match[3] === '*' ? null : Number(match[3]),
  };
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
