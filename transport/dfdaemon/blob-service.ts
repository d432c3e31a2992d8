/**
 * A layer blob GET, in the order the mirror tries its sources:
 *   1. the upstream's HEAD with the client's own headers: anything but 200 (or a redirect to blob
 *      storage) is the registry refusing this client (401, 403, 404), so the GET is forwarded as
 *      is — a cached private blob never reaches a client the registry would turn away;
 *   2. the local repo, if the blob is there;
 *   3. the P2P download shared by every client asking for that blob meanwhile (p2p-blob.ts),
 *      each byte sent once it is verified;
 *   4. when P2P fails (and fallback is on), a direct pull from the upstream resuming at the byte
 *      where P2P stopped, kept in the local repo when it was a whole copy.
 * The client's `BlobResponder` hashes the one body it sees; a mismatch breaks the connection.
 *
 * The local repo stays under `--repo-max`: a blob is pinned while a client is served from it (or
 * follows its P2P download, which may read it from the repo), and a download reserves the size
 * the registry's HEAD gave before it starts, so room is made first.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BlobResponder } from './blob-response.ts';
import { forwardResponse, pump, readWholeFile, teeToFile, type PumpOutcome } from './byte-sources.ts';
import { directBlob, UpstreamStatusError } from './direct-blob.ts';
import type { LocalRepo } from './local-repo.ts';
import type { LogFn } from './log.ts';
import type { DfdaemonConfig } from './options.ts';
import { P2PBlobFetch, type DownloadFn } from './p2p-blob.ts';
import type { Route } from './routes.ts';
import { credentialHeaders, endToEndHeaders, type Upstream } from './upstream.ts';

/** Distinct blobs downloading through P2P at once; more are served straight from the registry. */
const MAX_INFLIGHT_BLOBS = 256;

export type BlobRoute = Extract<Route, { kind: 'blob' }>;

export interface MirrorStats {
  blobRequests: number;
  blobsFromLocalRepo: number;
  blobsViaP2P: number;
  blobsViaFallback: number;
  blobsRefusedByUpstream: number;
  blobFailures: number;
  passThrough: number;
}

/** One client's blob request; `sizeBytes` from the registry's HEAD (0 when it gave none). */
interface BlobRequest { upstream: Upstream; route: BlobRoute; req: IncomingMessage; res: ServerResponse; sizeBytes: number }

export class BlobService {
  private readonly inflight = new Map<string, P2PBlobFetch>();

  constructor(
    private readonly config: DfdaemonConfig,
    private readonly repo: LocalRepo,
    private readonly download: DownloadFn,
    private readonly stats: MirrorStats,
    private readonly log: LogFn,
    /** Forward a request to its upstream unchanged. */
    private readonly passThrough: (upstream: Upstream, req: IncomingMessage, res: ServerResponse, path: string) => Promise<void>,
  ) {}

  async serve(blob: Omit<BlobRequest, 'sizeBytes'>): Promise<void> {
    const { upstream, route, req, res } = blob;
    const head = upstream.request('HEAD', route.upstreamPath, endToEndHeaders(req.headers));
    head.req.end();
    const headRes = await head.response;
    headRes.resume();
    const status = headRes.statusCode ?? 0;
    const redirected = status >= 300 && status < 400;
    if (status !== 200 && !redirected) {
      this.stats.blobsRefusedByUpstream += 1;
      this.log('info', `blob ${route.digest} of ${route.name}: upstream answered ${status} to this client; passing its answer through`);
      return this.passThrough(upstream, req, res, route.upstreamPath);
    }
    const responder = new BlobResponder(res, route.digest, redirected ? {} : pickHeaders(headRes, ['etag', 'cache-control', 'last-modified']));
    const length = Number(headRes.headers['content-length']);
    const request = { ...blob, sizeBytes: !redirected && Number.isSafeInteger(length) && length > 0 ? length : 0 };
    const release = this.repo.pin(route.digest);
    try {
      if (await this.fromLocalRepo(route, responder)) return;
      if (await this.viaP2P(request, responder)) return;
      await this.fallback(request, responder);
    } finally {
      release();
    }
  }

  /** Whether the response is over (served, or broken beyond continuing). */
  private async fromLocalRepo(route: BlobRoute, responder: BlobResponder): Promise<boolean> {
    if (await this.repo.storedSize(route.digest) === null) return false;
    const path = this.repo.blobPath(route.digest);
    const outcome = await pump(responder, readWholeFile(path));
    if (outcome.ok) {
      this.stats.blobsFromLocalRepo += 1;
      return true;
    }
    this.log('warn', `local copy of ${route.digest} is bad (${outcome.reason}); removed`);
    await this.repo.discard(path);
    // A finished response was already broken for the client; an unreadable file can be
    // continued from P2P at the byte it stopped, the running hash still covers every byte.
    return outcome.final || responder.clientGone;
  }

  /** Whether the response is over (served, or failed beyond a fallback). */
  private async viaP2P({ upstream, route, req, sizeBytes }: BlobRequest, responder: BlobResponder): Promise<boolean> {
    const fetch = this.sharedFetch(upstream, route, req, sizeBytes);
    const p2p: PumpOutcome = fetch
      ? await pump(responder, fetch.follow(responder.bytesSent))
      : { ok: false, reason: `${MAX_INFLIGHT_BLOBS} blobs already in flight through P2P`, final: false };
    if (p2p.ok) {
      this.stats.blobsViaP2P += 1;
      return true;
    }
    if (p2p.final || responder.clientGone) {
      this.stats.blobFailures += 1;
      this.log('error', `blob ${route.digest} of ${route.name}: ${p2p.reason}`);
      return true;
    }
    this.log('warn', `P2P failed for blob ${route.digest} of ${route.name} after ${responder.bytesSent} bytes: ${p2p.reason}`);
    if (this.config.fallback) return false;
    this.stats.blobFailures += 1;
    responder.fail(`P2P failed (${p2p.reason}) and fallback to the registry is off (--no-fallback)`);
    return true;
  }

  private async fallback({ upstream, route, req, res, sizeBytes }: BlobRequest, responder: BlobResponder): Promise<void> {
    // A pull from the first byte is a whole copy: keep it in the local repo if its digest holds.
    const keepPath = responder.bytesSent === 0 ? this.repo.tempPath(route.digest) : null;
    const release = keepPath ? await this.repo.reserve(sizeBytes) : () => {};
    try {
      await this.pullDirect({ upstream, route, req, res, sizeBytes }, responder, keepPath);
    } finally {
      release();
    }
  }

  private async pullDirect({ upstream, route, req, res }: BlobRequest, responder: BlobResponder, keepPath: string | null): Promise<void> {
    const source = directBlob(upstream, route.upstreamPath, endToEndHeaders(req.headers), responder.bytesSent);
    const direct = await pump(responder, keepPath ? teeToFile(source, keepPath) : source);
    if (direct.ok) {
      this.stats.blobsViaFallback += 1;
      this.log('info', `blob ${route.digest} served by direct pull from ${upstream.origin}`);
      if (keepPath) await this.repo.promote(keepPath, route.digest);
      return;
    }
    this.stats.blobFailures += 1;
    if (keepPath) await this.repo.discard(keepPath);
    if (direct.error instanceof UpstreamStatusError && !responder.headersSent) {
      this.log('warn', `direct pull of blob ${route.digest}: ${direct.reason}; passing the registry's answer through`);
      forwardResponse(direct.error.response, res);
      return;
    }
    this.log('error', `direct pull of blob ${route.digest} from ${upstream.origin} failed too: ${direct.reason}`);
    responder.fail(direct.reason);
  }

  /**
   * The in-flight P2P download of this blob, started with this client's credentials if none
   * runs (null when too many run). Safe to share: every client joining has just passed the
   * upstream's HEAD check.
   */
  private sharedFetch(upstream: Upstream, route: BlobRoute, req: IncomingMessage, sizeBytes: number): P2PBlobFetch | null {
    const url = upstream.url(route.upstreamPath);
    const existing = this.inflight.get(url);
    if (existing) return existing;
    if (this.inflight.size >= MAX_INFLIGHT_BLOBS) return null;
    const { config } = this;
    // Room in the local repo is made before the download starts; clients joining it share it.
    const download: DownloadFn = async (request) => {
      const release = await this.repo.reserve(sizeBytes);
      try {
        return await this.download(request);
      } finally {
        release();
      }
    };
    const fetch = new P2PBlobFetch(download, {
      url, headers: credentialHeaders(req.headers), outputPath: this.repo.tempPath(route.digest), homeDir: config.homeDir,
      supernodes: config.supernodes, localLimitBytesPerSec: config.localLimitBytesPerSec, totalLimitBytesPerSec: config.totalLimitBytesPerSec,
      digest: route.digest, pattern: 'p2p', backToSource: false, timeoutMs: config.blobTimeoutMs, idc: config.idc, location: config.location,
    });
    this.inflight.set(url, fetch);
    fetch.finished.then(
      (result) => this.keep(fetch, route, result),
      // Each follower logs the failure with what it did about it.
      () => {},
    ).catch((err: Error) => this.log('error', `storing blob ${route.digest} in ${config.localRepoDir} failed: ${err.message}`))
      .finally(() => { if (this.inflight.get(url) === fetch) this.inflight.delete(url); });
    return fetch;
  }

  /** A finished P2P download goes into the local repo if it is the blob it claims to be. */
  private async keep(fetch: P2PBlobFetch, route: BlobRoute, result: Awaited<P2PBlobFetch['finished']>): Promise<void> {
    if (result.fileDigest !== route.digest) {
      this.log('error', `P2P blob ${route.digest} came out as ${result.fileDigest}; discarded`);
      await this.repo.discard(result.outputPath);
      return;
    }
    await this.repo.promote(result.outputPath, route.digest);
    fetch.storedPath = this.repo.blobPath(route.digest);
    this.log('info', `blob ${route.digest} via P2P: ${result.totalBytes} bytes, ${result.fromPeersBytes} from peers, ` +
      `${result.fromSupernodeBytes} from the supernode, ${result.fromSourceBytes} from the source`);
  }
}

function pickHeaders(res: IncomingMessage, names: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of names) {
    const value = res.headers[name];
    if (typeof value === 'string') out[name] = value;
  }
  return out;
}
