/**
 * The registry mirror. Every request is classified (routes.ts); all but layer blob GETs are
 * forwarded to their upstream unchanged, headers included, so `/v2/` auth challenges, token
 * flows, manifests, tags and error answers reach the client exactly as the registry sent them.
 *
 * A blob GET:
 *   1. asks the upstream for the blob's HEAD with the client's own headers. Anything but 200 (or
 *      a redirect to blob storage) is the registry refusing this client (401, 403, 404): the GET is
 *      then forwarded as is, so the client gets the registry's own answer and not one byte from a
 *      cache — a cached private blob is never handed to a client the registry would turn away;
 *   2. streams the blob from the local repo if it is there, else from the P2P download shared by
 *      every client asking for that blob meanwhile, sending each byte once it is verified;
 *   3. when P2P fails (and fallback is on), resumes from the upstream at the byte where P2P
 *      stopped. The response hash is checked at the end; a mismatch breaks the connection.
 * A client Range request for a blob is forwarded as is: resuming clients get registry semantics.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promises as fs } from 'node:fs';
import { BlobResponder } from './blob-response.ts';
import { directBlob, UpstreamStatusError } from './direct-blob.ts';
import { LocalRepo } from './local-repo.ts';
import type { LogFn } from './log.ts';
import type { DfdaemonConfig } from './options.ts';
import { P2PBlobFetch, type DownloadFn } from './p2p-blob.ts';
import { classify, registryErrorBody, type Route, type RouteTable } from './routes.ts';
import { credentialHeaders, endToEndHeaders, Upstream } from './upstream.ts';

/** Distinct blobs downloading through P2P at once; more are served straight from the registry. */
const MAX_INFLIGHT_BLOBS = 256;

export interface MirrorStats {
  blobRequests: number;
  blobsFromLocalRepo: number;
  blobsViaP2P: number;
  blobsViaFallback: number;
  blobsRefusedByUpstream: number;
  blobFailures: number;
  passThrough: number;
}

export interface MirrorHandle {
  readonly port: number;
  readonly addr: string;
  stats(): MirrorStats;
  close(): Promise<void>;
}

export interface MirrorDeps {
  config: DfdaemonConfig;
  download: DownloadFn;
  log: LogFn;
}

type BlobRoute = Extract<Route, { kind: 'blob' }>;

export async function startMirror({ config, download, log }: MirrorDeps): Promise<MirrorHandle> {
  const upstreams = new Map<string, Upstream>();
  for (const cfg of [...(config.defaultUpstream ? [config.defaultUpstream] : []), ...config.hostUpstreams]) {
    upstreams.set(cfg.key, new Upstream(cfg));
  }
  const table: RouteTable = {
    upstreamsByHost: new Map(config.hostUpstreams.map((u) => [u.key, u.key])),
    defaultUpstream: config.defaultUpstream?.key ?? null,
  };
  const repo = new LocalRepo(config.localRepoDir);
  await repo.open();
  const inflight = new Map<string, P2PBlobFetch>();
  const stats: MirrorStats = {
    blobRequests: 0, blobsFromLocalRepo: 0, blobsViaP2P: 0, blobsViaFallback: 0,
    blobsRefusedByUpstream: 0, blobFailures: 0, passThrough: 0,
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const route = classify(req.method ?? 'GET', req.url ?? '/', table);
    switch (route.kind) {
      case 'health':
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
        return;
      case 'metrics':
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(metricsText(stats));
        return;
      case 'api-version':
        res.writeHead(200, { 'content-type': 'application/json', 'docker-distribution-api-version': 'registry/2.0' }).end('{}');
        return;
      case 'error':
        res.writeHead(route.status, { 'content-type': 'application/json', 'docker-distribution-api-version': 'registry/2.0' })
          .end(registryErrorBody(route.code, route.message));
        return;
      case 'pass':
        stats.passThrough += 1;
        await passThrough(upstreams.get(route.upstream)!, req, res, route.upstreamPath);
        return;
      case 'blob':
        if (req.method !== 'GET' || req.headers.range !== undefined) {
          stats.passThrough += 1;
          await passThrough(upstreams.get(route.upstream)!, req, res, route.upstreamPath);
          return;
        }
        stats.blobRequests += 1;
        await serveBlob(upstreams.get(route.upstream)!, route, req, res);
        return;
    }
  }

  async function serveBlob(upstream: Upstream, route: BlobRoute, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const clientHeaders = endToEndHeaders(req.headers);
    const head = upstream.request('HEAD', route.upstreamPath, clientHeaders);
    head.req.end();
    const headRes = await head.response;
    headRes.resume();
    const status = headRes.statusCode ?? 0;
    const redirected = status >= 300 && status < 400;
    if (status !== 200 && !redirected) {
      stats.blobsRefusedByUpstream += 1;
      log('info', `blob ${route.digest} of ${route.name}: upstream answered ${status} to this client; passing its answer through`);
      await passThrough(upstream, req, res, route.upstreamPath);
      return;
    }
    const responseHeaders = redirected ? {} : pickHeaders(headRes, ['etag', 'cache-control', 'last-modified']);
    const responder = new BlobResponder(res, route.digest, responseHeaders);

    if (await repo.storedSize(route.digest) !== null) {
      const path = repo.blobPath(route.digest);
      const outcome = await pump(responder, readWholeFile(path));
      if (outcome.ok) {
        stats.blobsFromLocalRepo += 1;
        return;
      }
      log('warn', `local copy of ${route.digest} is bad (${outcome.reason}); removed`);
      await repo.discard(path);
      // A finished response was already broken for the client; an unreadable file can be
      // continued from P2P at the byte it stopped, the running hash still covers every byte.
      if (outcome.final || responder.clientGone) return;
    }

    const fetch = sharedFetch(upstream, route, req);
    const p2p: PumpOutcome = fetch
      ? await pump(responder, fetch.follow(responder.bytesSent))
      : { ok: false, reason: `${MAX_INFLIGHT_BLOBS} blobs already in flight through P2P`, final: false };
    if (p2p.ok) {
      stats.blobsViaP2P += 1;
      return;
    }
    if (p2p.final || responder.clientGone) {
      stats.blobFailures += 1;
      log('error', `blob ${route.digest} of ${route.name}: ${p2p.reason}`);
      return;
    }
    log('warn', `P2P failed for blob ${route.digest} of ${route.name} after ${responder.bytesSent} bytes: ${p2p.reason}`);
    if (!config.fallback) {
      stats.blobFailures += 1;
      responder.fail(`P2P failed (${p2p.reason}) and fallback to the registry is off (--no-fallback)`);
      return;
    }
    // A pull from the first byte is a whole copy: keep it in the local repo if its digest holds.
    const keepPath = responder.bytesSent === 0 ? repo.tempPath(route.digest) : null;
    const source = directBlob(upstream, route.upstreamPath, clientHeaders, responder.bytesSent);
    const direct = await pump(responder, keepPath ? teeToFile(source, keepPath) : source);
    if (direct.ok) {
      stats.blobsViaFallback += 1;
      log('info', `blob ${route.digest} served by direct pull from ${upstream.origin}`);
      if (keepPath) await repo.promote(keepPath, route.digest);
      return;
    }
    stats.blobFailures += 1;
    if (keepPath) await repo.discard(keepPath);
    if (direct.error instanceof UpstreamStatusError && !responder.headersSent) {
      log('warn', `direct pull of blob ${route.digest}: ${direct.reason}; passing the registry's answer through`);
      forwardResponse(direct.error.response, res);
      return;
    }
    log('error', `direct pull of blob ${route.digest} from ${upstream.origin} failed too: ${direct.reason}`);
    responder.fail(direct.reason);
  }

  /**
   * The in-flight P2P download of this blob, started with this client's credentials if none
   * runs (null when too many run). Safe to share: every client joining has just passed the
   * upstream's HEAD check.
   */
  function sharedFetch(upstream: Upstream, route: BlobRoute, req: IncomingMessage): P2PBlobFetch | null {
    const url = upstream.url(route.upstreamPath);
    const existing = inflight.get(url);
    if (existing) return existing;
    if (inflight.size >= MAX_INFLIGHT_BLOBS) return null;
    const outputPath = repo.tempPath(route.digest);
    const fetch = new P2PBlobFetch(download, {
      url,
      headers: credentialHeaders(req.headers),
      outputPath,
      homeDir: config.homeDir,
      supernodes: config.supernodes,
      localLimitBytesPerSec: config.localLimitBytesPerSec,
      totalLimitBytesPerSec: config.totalLimitBytesPerSec,
      digest: route.digest,
      pattern: 'p2p',
      backToSource: false,
      timeoutMs: config.blobTimeoutMs,
    });
    inflight.set(url, fetch);
    fetch.finished.then(
      async (result) => {
        if (result.fileDigest === route.digest) {
          await repo.promote(result.outputPath, route.digest);
          fetch.storedPath = repo.blobPath(route.digest);
          log('info', `blob ${route.digest} via P2P: ${result.totalBytes} bytes, ${result.fromPeersBytes} from peers, ` +
            `${result.fromSupernodeBytes} from the supernode, ${result.fromSourceBytes} from the source`);
        } else {
          log('error', `P2P blob ${route.digest} came out as ${result.fileDigest}; discarded`);
          await repo.discard(result.outputPath);
        }
      },
      // Each follower logs the failure with what it did about it.
      () => {},
    ).catch((err: Error) => log('error', `storing blob ${route.digest} in ${config.localRepoDir} failed: ${err.message}`))
      .finally(() => { if (inflight.get(url) === fetch) inflight.delete(url); });
    return fetch;
  }

  async function passThrough(upstream: Upstream, req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const { req: upReq, response } = upstream.request(req.method ?? 'GET', path, endToEndHeaders(req.headers));
    req.pipe(upReq);
    try {
      forwardResponse(await response, res);
    } catch (err) {
      log('warn', `${req.method} ${path}: ${(err as Error).message}`);
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'application/json', 'docker-distribution-api-version': 'registry/2.0' })
          .end(registryErrorBody('UNAVAILABLE', `dfdaemon cannot reach the registry: ${(err as Error).message}`));
      } else {
        res.destroy();
      }
    }
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => {
      log('error', `${req.method} ${req.url}: ${err.message}`);
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'application/json' }).end(registryErrorBody('UNAVAILABLE', err.message));
      } else {
        res.destroy();
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => { server.off('error', reject); resolve(); });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    addr: `${config.host}:${port}`,
    stats: () => ({ ...stats }),
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => {
        for (const upstream of upstreams.values()) upstream.close();
        resolve();
      });
    }),
  };
}

type PumpOutcome =
  | { ok: true }
  /** `final`: the response is already ended or broken; no other source may continue it. */
  | { ok: false; reason: string; error?: unknown; final: boolean };

/** Drive one byte source into the responder; a throw becomes a failed outcome the caller may retry. */
async function pump(responder: BlobResponder, source: AsyncGenerator<number | Buffer>): Promise<PumpOutcome> {
  try {
    for await (const item of source) {
      if (typeof item === 'number') responder.start(item);
      else await responder.write(item);
    }
  } catch (err) {
    return { ok: false, reason: (err as Error).message, error: err, final: false };
  }
  const outcome = responder.finish();
  return outcome.ok ? outcome : { ok: false, reason: outcome.reason, final: true };
}

async function* readWholeFile(path: string): AsyncGenerator<number | Buffer> {
  const handle = await fs.open(path, 'r');
  try {
    yield (await handle.stat()).size;
    for await (const chunk of handle.createReadStream({ highWaterMark: 1024 * 1024 })) yield chunk as Buffer;
  } finally {
    await handle.close();
  }
}

/** Pass a byte source through unchanged while appending its chunks to `path`. */
async function* teeToFile(source: AsyncGenerator<number | Buffer>, path: string): AsyncGenerator<number | Buffer> {
  const handle = await fs.open(path, 'w');
  try {
    for await (const item of source) {
      if (typeof item !== 'number') await handle.write(item);
      yield item;
    }
  } finally {
    await handle.close();
  }
}

function forwardResponse(upRes: IncomingMessage, res: ServerResponse): void {
  res.writeHead(upRes.statusCode ?? 502, endToEndHeaders(upRes.headers));
  upRes.pipe(res);
  upRes.on('error', () => res.destroy());
  upRes.on('aborted', () => res.destroy());
}

/** Prometheus name and help of each counter. */
const METRICS: Record<keyof MirrorStats, [string, string]> = {
  blobRequests: ['dfdaemon_blob_requests_total', 'Blob GETs handled by the mirror'],
  blobsFromLocalRepo: ['dfdaemon_blobs_from_local_repo_total', 'Blobs served from the local repo'],
  blobsViaP2P: ['dfdaemon_blobs_via_p2p_total', 'Blobs served through P2P'],
  blobsViaFallback: ['dfdaemon_blobs_via_fallback_total', 'Blobs served (at least in part) by a direct pull from the registry'],
  blobsRefusedByUpstream: ['dfdaemon_blobs_refused_by_upstream_total', 'Blob GETs the registry refused for this client (its answer passed through)'],
  blobFailures: ['dfdaemon_blob_failures_total', 'Blob GETs that ended in an error'],
  passThrough: ['dfdaemon_pass_through_total', 'Requests forwarded to the registry unchanged'],
};

function metricsText(stats: MirrorStats): string {
  return (Object.keys(METRICS) as (keyof MirrorStats)[]).map((key) => {
    const [name, help] = METRICS[key];
    return `# HELP ${name} ${help}\n# TYPE ${name} counter\n${name} ${stats[key]}\n`;
  }).join('');
}

function pickHeaders(res: IncomingMessage, names: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of names) {
    const value = res.headers[name];
    if (typeof value === 'string') out[name] = value;
  }
  return out;
}
