/**
 * HTTP(S) client for one upstream registry: its own keep-alive agent trusting the configured CA
 * (or, with `insecure`, any certificate), and the header hygiene a transparent proxy needs —
 * hop-by-hop headers are per connection and must not cross it; everything else passes unchanged.
 */
import http, { type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import type { UpstreamConfig } from './options.ts';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection',
  'te', 'trailer', 'transfer-encoding', 'upgrade', 'host']);

/** Copy of `headers` without hop-by-hop ones (and without those the Connection header names). */
export function endToEndHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const named = new Set(String(headers.connection ?? '').toLowerCase().split(',').map((s) => s.trim()).filter(Boolean));
  const out: OutgoingHttpHeaders = {};
  for (const [key, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(key) || named.has(key)) continue;
    out[key] = value;
  }
  return out;
}

/** The request headers the supernode needs to fetch a blob as this client would (credentials). */
export function credentialHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  if (typeof headers.authorization === 'string') out.Authorization = headers.authorization;
  return out;
}

/** A registry connection silent this long is given up (the client would otherwise hang with it). */
const UPSTREAM_IDLE_TIMEOUT_MS = 60_000;

export class Upstream {
  readonly origin: string;
  private readonly agent: http.Agent;
  private readonly lib: typeof http | typeof https;

  constructor(readonly config: UpstreamConfig) {
    this.origin = config.url;
    const isHttps = config.url.startsWith('https:');
    this.lib = isHttps ? https : http;
    if (isHttps) {
      let ca: Buffer | undefined;
      if (config.caCertPath) {
        try {
          ca = readFileSync(config.caCertPath);
        } catch (err) {
          throw new Error(`cannot read CA certificate ${config.caCertPath} for ${config.url}: ${(err as Error).message}; check --cacert`);
        }
      }
      this.agent = new https.Agent({ keepAlive: true, maxSockets: 64, ca, rejectUnauthorized: !config.insecure });
    } else {
      this.agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
    }
  }

  url(path: string): string {
    return this.origin + path;
  }

  /**
   * Start a request; the caller writes/pipes the body (or calls end()). The response resolves
   * once headers arrive; connection failures reject with a message naming the upstream.
   */
  request(method: string, path: string, headers: OutgoingHttpHeaders): { req: http.ClientRequest; response: Promise<IncomingMessage> } {
    const target = new URL(path, this.origin);
    const req = this.lib.request(target, { method, headers: { ...headers, host: target.host }, agent: this.agent });
    // Idle, not total: a large layer may stream for minutes, but never silently.
    req.setTimeout(UPSTREAM_IDLE_TIMEOUT_MS, () => req.destroy(new Error(`no data for ${UPSTREAM_IDLE_TIMEOUT_MS / 1000} s`)));
    const response = new Promise<IncomingMessage>((resolve, reject) => {
      req.once('response', resolve);
      req.once('error', (err) => reject(new Error(`upstream registry ${this.origin} failed: ${err.message}${hint(err)}`)));
    });
    return { req, response };
  }

  close(): void {
    this.agent.destroy();
  }
}

const CERTIFICATE_ERRORS = new Set(['DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_HAS_EXPIRED', 'ERR_TLS_CERT_ALTNAME_INVALID']);

function hint(err: NodeJS.ErrnoException): string {
  if (err.code && CERTIFICATE_ERRORS.has(err.code)) return ' (give dfdaemon the CA that signed it with --cacert FILE, or cacert in --config)';
  if (err.code === 'ECONNREFUSED') return ' (is the registry running? check --registry)';
  return '';
}
