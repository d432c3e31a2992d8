/**
 * The managing node's HTTP server: decodes each request (core/manager-api.ts), applies it to the
 * supernode table (core/supernode-directory.ts) at the monotonic time, and arms one timer for the
 * earliest lease end so supernodes that stop announcing are dropped even when nobody asks.
 * Everything a request carries is bounded: bodies over 4 KiB are refused unread (413), slow
 * senders are cut off, and a malformed request gets a 4xx saying which field is wrong.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  addressProblem, decodeAnnounce, decodeChooseQuery, MANAGER_API_PATH, MANAGER_LIMITS, type AnnounceReply,
} from '../../core/manager-api.ts';
import { SupernodeDirectory } from '../../core/supernode-directory.ts';
import { HttpError, readBody, sendJson } from '../http-json.ts';
import type { ManagerLogLevel, ManagerOptions } from './options.ts';

export type ManagerLog = (level: ManagerLogLevel, message: string) => void;

const nowMs = (): number => performance.now();


export class ManagerServer {
  readonly directory: SupernodeDirectory;
  private timer: NodeJS.Timeout | undefined;
  private badRequests = 0;

  private constructor(private readonly server: Server, private readonly opts: ManagerOptions, private readonly log: ManagerLog) {
    this.directory = new SupernodeDirectory({ ttlMs: opts.ttlMs, maxSupernodes: opts.maxSupernodes });
  }

  static async start(opts: ManagerOptions, log: ManagerLog): Promise<ManagerServer> {
    const server = createServer();
    // Slow or silent clients must not hold sockets: the API's requests are tiny.
    server.headersTimeout = 10_000;
    server.requestTimeout = 15_000;
    server.maxConnections = 4096;
    const manager = new ManagerServer(server, opts, log);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      manager.route(req, res).catch((err: unknown) => manager.fail(res, err));
    });
    server.on('clientError', (_err, socket) => socket.destroy());
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port, opts.host, () => { server.off('error', reject); resolve(); });
    });
    log('info', `manager listening on ${opts.host}:${manager.port}; supernodes are dropped after ${opts.ttlMs} ms without an announcement`);
    return manager;
  }

  get port(): number { return (this.server.address() as AddressInfo).port; }

  async close(): Promise<void> {
    clearTimeout(this.timer);
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://manager');
    } catch {
      throw new HttpError(400, 'the request target is not a valid path');
    }
    const method = req.method ?? 'GET';
    if (url.pathname === '/healthz' && method === 'GET') return void res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    if (url.pathname === '/metrics' && method === 'GET') return void res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(this.metrics());
    if (url.pathname === MANAGER_API_PATH) {
      if (method === 'POST') return this.announce(req, res);
      if (method === 'GET') return this.choose(url, res);
      throw new HttpError(405, `${method} is not allowed on ${MANAGER_API_PATH}; use POST to announce, GET to ask`);
    }
    if (url.pathname.startsWith(`${MANAGER_API_PATH}/`)) {
      if (method !== 'DELETE') throw new HttpError(405, `use DELETE ${MANAGER_API_PATH}/<host:port> to withdraw a supernode`);
      return this.withdraw(url.pathname.slice(MANAGER_API_PATH.length + 1), res);
    }
    throw new HttpError(404, `no such endpoint ${url.pathname.slice(0, 100)}; the API is under ${MANAGER_API_PATH} (see manager --help)`);
  }

  private async announce(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const decoded = decodeAnnounce(await readBody(req, MANAGER_LIMITS.bodyBytes));
    if (!decoded.ok) throw new HttpError(400, `bad announcement: ${decoded.error.path}: ${decoded.error.message}`);
    const msg = decoded.msg;
    const result = this.directory.announce(nowMs(), msg);
    this.arm();
    if (result === 'full') {
      this.log('warn', `refused supernode ${msg.address}: already ${this.opts.maxSupernodes} listed (raise --max-supernodes)`);
      throw new HttpError(503, `the manager lists its limit of ${this.opts.maxSupernodes} supernodes; ask its operator to raise --max-supernodes`);
    }
    if (result === 'added') this.log('info', `supernode ${msg.address} joined (idc "${msg.idc}", location "${msg.location}")`);
    const reply: AnnounceReply = { ttlMs: this.opts.ttlMs, heartbeatIntervalMs: Math.max(1, Math.floor(this.opts.ttlMs / 3)) };
    sendJson(res, 200, reply);
  }

  private choose(url: URL, res: ServerResponse): void {
    const decoded = decodeChooseQuery(url.searchParams.get('idc'), url.searchParams.get('location'));
    if (!decoded.ok) throw new HttpError(400, `bad query: ${decoded.error.message}; fix --idc / --location`);
    const answer = this.directory.choose(nowMs(), decoded.msg);
    this.arm();
    sendJson(res, 200, answer);
  }

  private withdraw(encoded: string, res: ServerResponse): void {
    let address: string;
    try {
      address = decodeURIComponent(encoded);
    } catch {
      throw new HttpError(400, 'the address in the path is not valid percent-encoding');
    }
    const problem = addressProblem(address);
    if (problem) throw new HttpError(400, problem);
    if (!this.directory.withdraw(nowMs(), address)) throw new HttpError(404, `supernode ${address} is not listed`);
    this.arm();
    this.log('info', `supernode ${address} left`);
    res.writeHead(204).end();
  }

  /**
   * After every call to the directory: log the supernodes it dropped for an ended lease (on the
   * timer, or on an announcement or query that came first), then arm one timer for the earliest
   * lease end.
   */
  private arm(): void {
    for (const address of this.directory.takeDropped()) {
      this.log('warn', `dropped supernode ${address}: no announcement for ${this.opts.ttlMs} ms`);
    }
    clearTimeout(this.timer);
    const deadline = this.directory.nextDeadlineMs();
    if (deadline === null) return;
    this.timer = setTimeout(() => {
      this.directory.expire(nowMs());
      this.arm();
    }, Math.max(0, Math.ceil(deadline - nowMs())));
    this.timer.unref();
  }

  private fail(res: ServerResponse, err: unknown): void {
    const status = err instanceof HttpError ? err.status : 500;
    if (status >= 400 && status < 500) this.badRequests++;
    if (status >= 500 && !(err instanceof HttpError)) this.log('error', `request failed: ${(err as Error).stack ?? String(err)}`);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    sendJson(res, status, { error: err instanceof HttpError ? err.message : 'internal error; see the manager log' }, status === 413 ? { connection: 'close' } : {});
  }

  private metrics(): string {
    const c = this.directory.counters;
    const lines = [
      '# HELP manager_supernodes Supernodes listed now.', '# TYPE manager_supernodes gauge', `manager_supernodes ${this.directory.size}`,
      '# HELP manager_announcements_total Announcements by outcome.', '# TYPE manager_announcements_total counter',
      `manager_announcements_total{outcome="added"} ${c.added}`, `manager_announcements_total{outcome="renewed"} ${c.renewed}`,
      `manager_announcements_total{outcome="refused"} ${c.refused}`,
      '# HELP manager_supernodes_dropped_total Supernodes removed, by reason.', '# TYPE manager_supernodes_dropped_total counter',
      `manager_supernodes_dropped_total{reason="expired"} ${c.expired}`, `manager_supernodes_dropped_total{reason="withdrawn"} ${c.withdrawn}`,
      '# HELP manager_queries_total Hosts asking for supernodes.', '# TYPE manager_queries_total counter', `manager_queries_total ${c.queries}`,
      '# HELP manager_bad_requests_total Requests refused with a 4xx.', '# TYPE manager_bad_requests_total counter', `manager_bad_requests_total ${this.badRequests}`,
      '# HELP manager_supernode_load Peers each supernode last reported (-1 = not reported).', '# TYPE manager_supernode_load gauge',
      // Labels are safe as written: addresses, IDCs and locations were decoded to [A-Za-z0-9._:|[\]-] only.
      ...this.directory.entries().map((e) => `manager_supernode_load{address="${e.address}",idc="${e.idc}",location="${e.location}"} ${e.load ?? -1}`),
    ];
    return `${lines.join('\n')}\n`;
  }
}

