/**
 * An HTTP proxy in front of a test registry that counts the body bytes it relays per blob
 * digest, so a test can tell how many copies of each layer the registry really sent. It can also
 * misbehave on purpose for one blob: drop the connection when a response reaches a byte offset of
 * the blob, or flip the byte at an offset.
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { parseContentRange } from '../../transport/http-range.ts';

const BLOB_PATH = /^\/v2\/.+\/blobs\/(sha256:[0-9a-f]{64})$/;

export type BlobFault =
  | { kind: 'drop'; afterBytes: number }
  | { kind: 'corrupt'; atByte: number };

export interface CountingProxy {
  port: number;
  hostPort: string;
  url: string;
  /** Blob body bytes relayed so far, per digest. */
  blobBytes(digest: string): number;
  totalBlobBytes(): number;
  /** Requests seen, as `METHOD PATH STATUS`. */
  requests: string[];
  setFault(digest: string, fault: BlobFault | null): void;
  reset(): void;
  close(): Promise<void>;
}

export async function startCountingProxy(upstreamUrl: string, ca?: Buffer): Promise<CountingProxy> {
  const upstream = new URL(upstreamUrl);
  const lib = upstream.protocol === 'https:' ? https : http;
  const counts = new Map<string, number>();
  const faults = new Map<string, BlobFault>();
  const requests: string[] = [];

  const server = http.createServer((req, res) => {
    const path = req.url ?? '/';
    const digest = BLOB_PATH.exec(path.split('?')[0])?.[1];
    const headers = { ...req.headers, host: upstream.host };
    const upReq = lib.request({
      protocol: upstream.protocol, hostname: upstream.hostname, port: upstream.port, path, method: req.method, headers, ca,
    }, (upRes) => {
      requests.push(`${req.method} ${path} ${upRes.statusCode}`);
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      const fault = digest && (upRes.statusCode === 200 || upRes.statusCode === 206) ? faults.get(digest) : undefined;
      // Fault offsets are positions in the blob, so ranged fetches (a CDN fetching piece by piece) meet them too.
      let relayedBytes = upRes.statusCode === 206 ? parseContentRange(upRes.headers['content-range'])?.startByte ?? 0 : 0;
      let dropped = false;
      upRes.on('data', (chunk: Buffer) => {
        if (dropped) return;
        let out = chunk;
        if (fault?.kind === 'drop' && relayedBytes <= fault.afterBytes && relayedBytes + chunk.length > fault.afterBytes) {
          out = chunk.subarray(0, Math.max(0, fault.afterBytes - relayedBytes));
          dropped = true;
          count(digest, out.length);
          res.write(out, () => res.destroy());
          upRes.destroy();
          relayedBytes += out.length;
          return;
        }
        if (fault?.kind === 'corrupt' && fault.atByte >= relayedBytes && fault.atByte < relayedBytes + chunk.length) {
          out = Buffer.from(chunk);
          out[fault.atByte - relayedBytes] ^= 0xff;
        }
        relayedBytes += out.length;
        count(digest, out.length);
        res.write(out);
      });
      upRes.on('end', () => res.end());
      upRes.on('error', () => res.destroy());
    });
    upReq.on('error', (err) => {
      requests.push(`${req.method} ${path} error`);
      if (!res.headersSent) res.writeHead(502).end(`counting proxy: upstream error ${err.message}`);
      else res.destroy();
    });
    req.pipe(upReq);
  });

  function count(digest: string | undefined, bytes: number): void {
    if (digest) counts.set(digest, (counts.get(digest) ?? 0) + bytes);
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    hostPort: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    blobBytes: (digest) => counts.get(digest) ?? 0,
    totalBlobBytes: () => [...counts.values()].reduce((a, b) => a + b, 0),
    requests,
    setFault: (digest, fault) => { if (fault) faults.set(digest, fault); else faults.delete(digest); },
    reset: () => { counts.clear(); requests.length = 0; },
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
