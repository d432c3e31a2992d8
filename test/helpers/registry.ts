/**
 * Starts Debian's `docker-registry` (distribution 2.x) on a free 127.0.0.1 port with a temp
 * config: plain HTTP, htpasswd basic auth, or HTTPS with a self-signed certificate made by
 * `openssl`. Tests that need it call `missingRegistryTools()` first and skip with its message when
 * the Debian binaries are absent (CI installs them through .ci/run).
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createSign, randomBytes, X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import http from 'node:http';
import https from 'node:https';

export const REGISTRY_TOOLS = ['docker-registry', 'skopeo', 'umoci', 'htpasswd', 'openssl'] as const;

/** Names of the registry test tools not on PATH (empty when all are there). */
export async function missingRegistryTools(): Promise<string[]> {
  const missing: string[] = [];
  for (const tool of REGISTRY_TOOLS) {
    try {
      await run('sh', ['-c', `command -v ${tool}`]);
    } catch {
      missing.push(tool);
    }
  }
  return missing;
}

export function skipMessage(missing: string[]): string {
  return `SKIPPED: registry tests need ${missing.join(', ')} on PATH ` +
    '(Debian: apt-get install docker-registry skopeo umoci apache2-utils openssl; .ci/run does this)';
}

export interface RegistryOptions {
  /** Require HTTP basic auth backed by an htpasswd file (bcrypt, as distribution demands). */
  auth?: { username: string; password: string };
  /** Serve HTTPS with a fresh self-signed certificate for 127.0.0.1. */
  tls?: boolean;
  /**
   * Docker-style token auth: the registry answers 401 with a Bearer challenge naming a token
   * server (run here, in-process) that issues signed JWTs to these credentials only.
   */
  tokenAuth?: { username: string; password: string };
}

export interface RunningRegistry {
  port: number;
  /** `127.0.0.1:PORT`, the registry part of image references. */
  hostPort: string;
  /** `http://127.0.0.1:PORT` or `https://...`. */
  url: string;
  /** PEM of the self-signed certificate when `tls` (it is its own CA). */
  caCertPath?: string;
  dir: string;
  stop(): Promise<void>;
}

/** Runs a command to completion; rejects with its stderr when it exits non-zero. */
export function run(cmd: string, args: string[], env?: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { env: env ?? process.env, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/** A port that was free a moment ago (the registry binds it itself, so it cannot take port 0). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export async function startRegistry(opts: RegistryOptions = {}): Promise<RunningRegistry> {
  const dir = await mkdtemp(join(tmpdir(), 'sdf-registry-'));
  const port = await freePort();
  const lines = [
    'version: 0.1',
    'log:',
    '  level: warn',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${join(dir, 'store')}`,
    'http:',
    `  addr: 127.0.0.1:${port}`,
    '  secret: small-dragonfly-test',
  ];
  let caCertPath: string | undefined;
  if (opts.tls) {
    caCertPath = join(dir, 'cert.pem');
    const keyPath = join(dir, 'key.pem');
    await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', keyPath, '-out', caCertPath]);
    lines.push('  tls:', `    certificate: ${caCertPath}`, `    key: ${keyPath}`);
  }
  if (opts.auth) {
    const htpasswdPath = join(dir, 'htpasswd');
    const entry = await run('htpasswd', ['-Bbn', opts.auth.username, opts.auth.password]);
    await writeFile(htpasswdPath, entry);
    lines.push('auth:', '  htpasswd:', '    realm: small-dragonfly-test', `    path: ${htpasswdPath}`);
  }
  let tokenServer: TokenServer | null = null;
  if (opts.tokenAuth) {
    const signingCertPath = join(dir, 'token-cert.pem');
    const signingKeyPath = join(dir, 'token-key.pem');
    await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=sdf-token-issuer',
      '-keyout', signingKeyPath, '-out', signingCertPath]);
    tokenServer = await startTokenServer(opts.tokenAuth, await readFile(signingKeyPath, 'utf8'), await readFile(signingCertPath, 'utf8'));
    lines.push('auth:', '  token:', `    realm: ${tokenServer.realm}`, `    service: ${TOKEN_SERVICE}`,
      `    issuer: ${TOKEN_ISSUER}`, `    rootcertbundle: ${signingCertPath}`);
  }
  const configPath = join(dir, 'config.yml');
  await writeFile(configPath, lines.join('\n') + '\n');

  const child = spawn('docker-registry', ['serve', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => { stderr = (stderr + chunk.toString()).slice(-4000); });
  const url = `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  const ca = caCertPath ? await readFile(caCertPath) : undefined;
  try {
    await waitUntilServing(url, ca, child);
  } catch (err) {
    child.kill('SIGKILL');
    await tokenServer?.close();
    throw new Error(`docker-registry did not start on ${url}: ${(err as Error).message}\n${stderr}`);
  }
  return {
    port, hostPort: `127.0.0.1:${port}`, url, caCertPath, dir,
    stop: async () => {
      await stopChild(child);
      await tokenServer?.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function waitUntilServing(url: string, ca: Buffer | undefined, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`exited with code ${child.exitCode}`);
    const status = await probe(`${url}/v2/`, ca);
    if (status === 200 || status === 401) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('no answer on /v2/ within 15 s');
}

function probe(url: string, ca: Buffer | undefined): Promise<number | null> {
  return new Promise((resolve) => {
    const lib = url.startsWith('https:') ? https : http;
    const req = lib.get(url, { ca }, (res) => { res.resume(); resolve(res.statusCode ?? null); });
    req.on('error', () => resolve(null));
  });
}

export function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 3000).unref();
  });
}

export interface RawResponse { status: number; headers: http.IncomingHttpHeaders; body: Buffer; error: string | null }

/** One plain GET, body collected; `error` is set when the transfer broke instead of ending. */
export function rawGet(url: string, headers: http.OutgoingHttpHeaders = {}): Promise<RawResponse> {
  return new Promise((resolve) => {
    const req = http.get(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), error: null }));
      res.on('error', (err) => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), error: err.message }));
    });
    req.on('error', (err) => resolve({ status: 0, headers: {}, body: Buffer.alloc(0), error: err.message }));
  });
}

export function basicAuth(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

const TOKEN_SERVICE = 'sdf-test-registry';
const TOKEN_ISSUER = 'sdf-test-token-issuer';

interface TokenServer { realm: string; close(): Promise<void> }

/**
 * The token endpoint of distribution's token auth: `GET /token?service=&scope=` with Basic
 * credentials answers `{token}`, an RS256 JWT whose x5c header carries the signing certificate
 * (which the registry trusts as its root bundle) and whose `access` grants the requested scopes.
 * Wrong or missing credentials get a 401.
 */
async function startTokenServer(creds: { username: string; password: string }, keyPem: string, certPem: string): Promise<TokenServer> {
  const certDer = new X509Certificate(certPem).raw.toString('base64');
  const expected = basicAuth(creds.username, creds.password);
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://token');
    if (url.pathname !== '/token' || req.headers.authorization !== expected) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"wrong credentials"}');
      return;
    }
    const access = url.searchParams.getAll('scope').flatMap((scope) => {
      const [type, name, actions] = scope.split(':');
      return type && name && actions ? [{ type, name, actions: actions.split(',') }] : [];
    });
    const nowSec = Math.floor(Date.now() / 1000);
    const header = { typ: 'JWT', alg: 'RS256', x5c: [certDer] };
    const claims = {
      iss: TOKEN_ISSUER, sub: creds.username, aud: url.searchParams.get('service') ?? TOKEN_SERVICE,
      iat: nowSec, nbf: nowSec - 10, exp: nowSec + 600, jti: randomBytes(8).toString('hex'), access,
    };
    const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
    const signature = createSign('RSA-SHA256').update(signingInput).sign(keyPem).toString('base64url');
    const token = `${signingInput}.${signature}`;
    res.writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ token, access_token: token, expires_in: 600, issued_at: new Date().toISOString() }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    realm: `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

function base64url(text: string): string {
  return Buffer.from(text).toString('base64url');
}
