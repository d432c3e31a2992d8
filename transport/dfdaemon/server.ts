/**
 * The registry mirror. Every request is classified (routes.ts); all but layer blob GETs are
 * forwarded to their upstream unchanged, headers included, so `/v2/` auth challenges, token
 * flows, manifests, tags and error answers reach the client exactly as the registry sent them.
 * Blob GETs go to the blob service (blob-service.ts): local repo, then P2P, then the registry.
 * A client Range request for a blob is forwarded as is: resuming clients get registry semantics.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { counterTable, PROMETHEUS_CONTENT_TYPE, renderPrometheus } from '../prometheus.ts';
import { BlobService, type MirrorStats } from './blob-service.ts';
import { forwardResponse } from './byte-sources.ts';
import { LocalRepo } from './local-repo.ts';
import type { LogFn } from './log.ts';
import type { DfdaemonConfig } from './options.ts';
import type { DownloadFn } from './p2p-blob.ts';
import { classify, registryErrorBody, type RouteTable } from './routes.ts';
import { endToEndHeaders, Upstream } from './upstream.ts';

export type { MirrorStats } from './blob-service.ts';

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

const METRICS = counterTable<keyof MirrorStats>({
  blobRequests: ['dfdaemon_blob_requests_total', 'Blob GETs handled by the mirror'],
  blobsFromLocalRepo: ['dfdaemon_blobs_from_local_repo_total', 'Blobs served from the local repo'],
  blobsViaP2P: ['dfdaemon_blobs_via_p2p_total', 'Blobs served through P2P'],
  blobsViaFallback: ['dfdaemon_blobs_via_fallback_total', 'Blobs served (at least in part) by a direct pull from the registry'],
  blobsRefusedByUpstream: ['dfdaemon_blobs_refused_by_upstream_total', 'Blob GETs the registry refused for this client (its answer passed through)'],
  blobFailures: ['dfdaemon_blob_failures_total', 'Blob GETs that ended in an error'],
  passThrough: ['dfdaemon_pass_through_total', 'Requests forwarded to the registry unchanged'],
});

const REGISTRY_JSON = { 'content-type': 'application/json', 'docker-distribution-api-version': 'registry/2.0' };

export async function startMirror(deps: MirrorDeps): Promise<MirrorHandle> {
  const repo = new LocalRepo(deps.config.localRepoDir, {
    limit: deps.config.repoLimit, log: (level, message) => deps.log(level, `local repo: ${message}`),
    onEvicted: (digests) => deps.log('info', `local repo: evicted ${digests.join(', ')}`),
  });
  await repo.open();
  const mirror = new Mirror(deps, repo);
  await mirror.listen();
  return mirror;
}

class Mirror implements MirrorHandle {
  private readonly upstreams = new Map<string, Upstream>();
  private readonly table: RouteTable;
  private readonly counters: MirrorStats = {
    blobRequests: 0, blobsFromLocalRepo: 0, blobsViaP2P: 0, blobsViaFallback: 0, blobsRefusedByUpstream: 0, blobFailures: 0, passThrough: 0,
  };
  private readonly blobs: BlobService;
  private readonly server: Server;

  constructor(private readonly deps: MirrorDeps, repo: LocalRepo) {
    const { config } = deps;
    for (const cfg of [...(config.defaultUpstream ? [config.defaultUpstream] : []), ...config.hostUpstreams]) {
      this.upstreams.set(cfg.key, new Upstream(cfg));
    }
    this.table = {
      upstreamsByHost: new Map(config.hostUpstreams.map((u) => [u.key, u.key])),
      defaultUpstream: config.defaultUpstream?.key ?? null,
    };
    this.blobs = new BlobService(config, repo, deps.download, this.counters, deps.log,
      (upstream, req, res, path) => this.passThrough(upstream, req, res, path));
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: Error) => {
        deps.log('error', `${req.method} ${req.url}: ${err.message}`);
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' }).end(registryErrorBody('UNAVAILABLE', err.message));
        else res.destroy();
      });
    });
  }

  get port(): number { return (this.server.address() as AddressInfo).port; }
  get addr(): string { return `${this.deps.config.host}:${this.port}`; }
  stats(): MirrorStats { return { ...this.counters }; }

  async listen(): Promise<void> {
    const { host, port } = this.deps.config;
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => { this.server.off('error', reject); resolve(); });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.closeAllConnections();
      this.server.close(() => {
        for (const upstream of this.upstreams.values()) upstream.close();
        resolve();
      });
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const route = classify(req.method ?? 'GET', req.url ?? '/', this.table);
    switch (route.kind) {
      case 'health':
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
        return;
      case 'metrics':
        res.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE }).end(renderPrometheus(METRICS, this.counters));
        return;
      case 'api-version':
        res.writeHead(200, REGISTRY_JSON).end('{}');
        return;
      case 'error':
        res.writeHead(route.status, REGISTRY_JSON).end(registryErrorBody(route.code, route.message));
        return;
      case 'pass':
        this.counters.passThrough += 1;
        return this.passThrough(this.upstreams.get(route.upstream)!, req, res, route.upstreamPath);
      case 'blob': {
        const upstream = this.upstreams.get(route.upstream)!;
        if (req.method !== 'GET' || req.headers.range !== undefined) {
          this.counters.passThrough += 1;
          return this.passThrough(upstream, req, res, route.upstreamPath);
        }
        this.counters.blobRequests += 1;
        return this.blobs.serve({ upstream, route, req, res });
      }
    }
  }

  private async passThrough(upstream: Upstream, req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const { req: upReq, response } = upstream.request(req.method ?? 'GET', path, endToEndHeaders(req.headers));
    req.pipe(upReq);
    try {
      forwardResponse(await response, res);
    } catch (err) {
      this.deps.log('warn', `${req.method} ${path}: ${(err as Error).message}`);
      if (!res.headersSent) {
        res.writeHead(502, REGISTRY_JSON).end(registryErrorBody('UNAVAILABLE', `dfdaemon cannot reach the registry: ${(err as Error).message}`));
      } else {
        res.destroy();
      }
    }
  }
}
