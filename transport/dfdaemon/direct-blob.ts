/**
 * A blob pulled straight from the upstream registry: the fallback when P2P fails. It can start
 * mid-blob (`Range: bytes=N-`) so a client that already received part of the layer from P2P gets
 * the rest, hashed as one body by its `BlobResponder`. A registry answer other than the bytes
 * asked for is surfaced as `UpstreamStatusError`, carrying the response so the caller can hand it
 * to the client unchanged when nothing was sent yet (a 401 challenge must reach the client as is).
 */
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { parseContentRange } from '../http-range.ts';
import type { ByteSource } from './byte-sources.ts';
import type { Upstream } from './upstream.ts';

export class UpstreamStatusError extends Error {
  constructor(readonly response: IncomingMessage, wanted: string) {
    super(`upstream answered ${response.statusCode} where ${wanted} was expected`);
    this.name = 'UpstreamStatusError';
  }
}

/**
 * Yields the total size first, then the body from `fromByte` on. `headers` are the client's
 * end-to-end request headers (credentials included).
 */
export async function* directBlob(
  upstream: Upstream, path: string, headers: OutgoingHttpHeaders, fromByte: number,
): ByteSource {
  const requestHeaders: OutgoingHttpHeaders = { ...headers };
  delete requestHeaders['range'];
  delete requestHeaders['if-range'];
  // Byte offsets only mean something on the identity encoding.
  requestHeaders['accept-encoding'] = 'identity';
  if (fromByte > 0) requestHeaders['range'] = `bytes=${fromByte}-`;
  const { req, response } = upstream.request('GET', path, requestHeaders);
  req.end();
  const res = await response;
  const expected = fromByte > 0 ? 206 : 200;
  if (res.statusCode !== expected) {
    throw new UpstreamStatusError(res, fromByte > 0 ? `206 for bytes ${fromByte}-` : '200');
  }
  const totalBytes = fromByte > 0 ? parseContentRange(res.headers['content-range'])?.totalBytes ?? NaN : Number(res.headers['content-length']);
  if (!Number.isSafeInteger(totalBytes) || totalBytes < fromByte) {
    res.destroy();
    throw new Error(`upstream gave no usable length for ${path} (content-length ${res.headers['content-length']}, content-range ${res.headers['content-range']})`);
  }
  yield totalBytes;
  let received = fromByte;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    received += chunk.length;
    yield chunk;
  }
  if (received !== totalBytes) throw new Error(`upstream sent ${received} of ${totalBytes} bytes of ${path}`);
}
