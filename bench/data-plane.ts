/**
 * How piece bytes should travel between two processes on loopback: WebSocket binary frames (what
 * the data plane speaks) against HTTP GETs of a piece, the two forms DESIGN §4 names. The server
 * holds one piece in memory and sends it again and again; the client keeps `inFlight` requests
 * running, receives every piece into memory and (optionally) hashes it, so the figures are the
 * transport's own cost, without disks. Server and client are separate node processes; each
 * reports its CPU time (user + system), so the cost of each side is measured, not guessed.
 *
 *   npm run bench:data-plane -- [--total 1GiB] [--piece 12MiB] [--in-flight 4] [--hash] [--out out/bench]
 *
 * Forms measured (the server is the same per protocol; only the client's reading differs):
 *   ws        WebSocket frames read by the ws package (it concatenates the socket's reads into a
 *             fresh buffer per message): the data plane's client before issue 12
 *   ws-raw    the same frames read by dfget's data socket (transport/dfget/data-socket.ts): reads
 *             land straight in the piece buffer (net `onread`), no copy, no allocation per read
 *   http      GET /piece answered with Content-Length; node:http client copying the body's
 *             chunks into a reused piece buffer
 *   http-raw  the same HTTP exchange read off a raw socket into the piece buffer (net `onread`)
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, request, Agent } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { stringify } from 'csv-stringify/sync';
import { WebSocket, WebSocketServer } from 'ws';
import { formatBytes, parseBytes } from '../core/units.ts';
import { DataSocket } from '../transport/dfget/data-socket.ts';
import { median } from './median.ts';
import { decodePieceFrame, pieceFramePrefix } from '../transport/wire.ts';

type Form = 'ws' | 'ws-raw' | 'http' | 'http-raw';
const FORMS: Form[] = ['ws', 'ws-raw', 'http', 'http-raw'];

interface Report { cpuSeconds: number; wallSeconds: number; bytes: number }

const cpuSeconds = (): number => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
};

// ---- server side ----

async function serve(form: Form, pieceBytes: number): Promise<void> {
  const piece = Buffer.allocUnsafeSlow(pieceBytes).fill(0x5a);
  const startCpu = cpuSeconds();
  const server = createServer((req, res) => {
    res.writeHead(200, { 'content-length': String(pieceBytes), 'content-type': 'application/octet-stream' });
    res.end(piece);
  });
  if (form === 'ws' || form === 'ws-raw') {
    // The data plane's frame: [uint32 header length][header JSON][piece], one frame per piece.
    const frame = (requestId: number): Buffer => Buffer.concat([pieceFramePrefix({ kind: 'piece-data', requestId, taskId: 't', piece: 0, sizeBytes: pieceBytes }), piece]);
    const wss = new WebSocketServer({ server, path: '/data', maxPayload: pieceBytes + 1024 });
    wss.on('connection', (ws) => ws.on('message', (data) => ws.send(frame((JSON.parse(String(data)) as { requestId: number }).requestId), { binary: true })));
  }
  server.listen(0, '127.0.0.1', () => process.stdout.write(`${(server.address() as AddressInfo).port}\n`));
  process.stdin.on('data', () => {
    process.stdout.write(`${JSON.stringify({ cpuSeconds: cpuSeconds() - startCpu })}\n`);
    process.exit(0);
  });
}

// ---- client side ----

interface ClientOptions { port: number; pieceBytes: number; pieces: number; inFlight: number; hash: boolean }

async function fetchAll(opts: ClientOptions, fetchOne: (target: Buffer) => Promise<Buffer>): Promise<Report> {
  const startCpu = cpuSeconds();
  const startMs = performance.now();
  let next = 0;
  let bytes = 0;
  const worker = async (): Promise<void> => {
    const target = Buffer.allocUnsafeSlow(opts.pieceBytes);
    while (next < opts.pieces) {
      next++;
      const got = await fetchOne(target);
      if (opts.hash) createHash('sha256').update(got).digest();
      bytes += got.length;
    }
  };
  await Promise.all(Array.from({ length: opts.inFlight }, worker));
  return { cpuSeconds: cpuSeconds() - startCpu, wallSeconds: (performance.now() - startMs) / 1000, bytes };
}

async function wsClient(opts: ClientOptions): Promise<Report> {
  const ws = new WebSocket(`ws://127.0.0.1:${opts.port}/data`, { maxPayload: opts.pieceBytes + 1024, perMessageDeflate: false });
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
  const waiting = new Map<number, (data: Buffer) => void>();
  let nextId = 1;
  ws.on('message', (data: Buffer) => {
    const frame = decodePieceFrame(data);
    if (frame.ok) { waiting.get(frame.header.requestId)?.(frame.bytes); waiting.delete(frame.header.requestId); }
  });
  const report = await fetchAll(opts, () => new Promise((resolve) => {
    const requestId = nextId++;
    waiting.set(requestId, resolve);
    ws.send(JSON.stringify({ kind: 'piece-request', requestId, taskId: 't', piece: 0 }));
  }));
  ws.terminate();
  return report;
}

/** dfget's own reader: one connection, frames read into the piece buffers of the requests. */
async function wsRawClient(opts: ClientOptions): Promise<Report> {
  const waiting = new Map<number, { target: Buffer; resolve(bytes: Buffer): void }>();
  let opened!: () => void;
  const open = new Promise<void>((resolve) => { opened = resolve; });
  const socket = new DataSocket(`127.0.0.1:${opts.port}`, {
    onOpen: () => opened(),
    pieceBuffer: (header) => waiting.get(header.requestId)?.target.subarray(0, header.sizeBytes) ?? null,
    onPiece: (header, bytes) => { waiting.get(header.requestId)?.resolve(bytes!); waiting.delete(header.requestId); },
    onText: () => {},
    onClosed: () => {},
  }, 5000);
  await open;
  let nextId = 1;
  const report = await fetchAll(opts, (target) => new Promise((resolve) => {
    const requestId = nextId++;
    waiting.set(requestId, { target, resolve });
    socket.send(JSON.stringify({ kind: 'piece-request', requestId, taskId: 't', piece: 0 }));
  }));
  socket.close();
  return report;
}

async function httpClient(opts: ClientOptions): Promise<Report> {
  const agent = new Agent({ keepAlive: true, maxSockets: opts.inFlight });
  return fetchAll(opts, (target) => new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port: opts.port, path: '/piece', agent }, (res) => {
      let filled = 0;
      res.on('data', (chunk: Buffer) => { filled += chunk.copy(target, filled); });
      res.on('end', () => resolve(target.subarray(0, filled)));
      res.on('error', reject);
    }).on('error', reject).end();
  }));
}

/**
 * One keep-alive connection per worker; each read lands in the piece buffer at the next free
 * offset (the header's bytes are read there too and the body moved to the front once: at most
 * one read's worth). Enough HTTP to measure with (status 200, Content-Length), not a client.
 */
function rawConnection(port: number, target: Buffer): (path: string) => Promise<Buffer> {
  let filled = 0;
  let settle: ((piece: Buffer) => void) | null = null;
  let bodyStart = -1;
  let bodyBytes = 0;
  const socket = connect({
    host: '127.0.0.1', port,
    onread: {
      buffer: () => target.subarray(filled),
      callback: (nread: number) => {
        filled += nread;
        if (bodyStart < 0) {
          const end = target.subarray(0, filled).indexOf('\r\n\r\n');
          if (end < 0) return true;
          const head = target.subarray(0, end).toString('latin1');
          bodyBytes = Number(/content-length:\s*(\d+)/i.exec(head)?.[1] ?? NaN);
          bodyStart = end + 4;
          target.copy(target, 0, bodyStart, filled);
          filled -= bodyStart;
        }
        if (filled >= bodyBytes && settle) {
          const done = settle;
          settle = null;
          bodyStart = -1;
          filled = 0;
          done(target.subarray(0, bodyBytes));
        }
        return true;
      },
    },
  });
  return (path) => new Promise((resolve) => {
    settle = resolve;
    socket.write(`GET ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n`);
  });
}

async function rawClient(opts: ClientOptions): Promise<Report> {
  const startCpu = cpuSeconds();
  const startMs = performance.now();
  let next = 0;
  let bytes = 0;
  const worker = async (): Promise<void> => {
    // Room for the response header beside the piece.
    const get = rawConnection(opts.port, Buffer.allocUnsafeSlow(opts.pieceBytes + 64 * 1024));
    while (next < opts.pieces) {
      next++;
      const got = await get('/piece');
      if (opts.hash) createHash('sha256').update(got).digest();
      bytes += got.length;
    }
  };
  await Promise.all(Array.from({ length: opts.inFlight }, worker));
  return { cpuSeconds: cpuSeconds() - startCpu, wallSeconds: (performance.now() - startMs) / 1000, bytes };
}

// ---- orchestration ----

const SELF = fileURLToPath(import.meta.url);

function child(args: string[]): { proc: ReturnType<typeof spawn>; lines: AsyncIterator<string> } {
  const proc = spawn(process.execPath, ['--import', 'tsx', SELF, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  proc.stdout!.setEncoding('utf8');
  const lines = (async function* () {
    let buffered = '';
    for await (const chunk of proc.stdout!) {
      buffered += chunk;
      for (let at = buffered.indexOf('\n'); at >= 0; at = buffered.indexOf('\n')) {
        yield buffered.slice(0, at);
        buffered = buffered.slice(at + 1);
      }
    }
  })();
  return { proc, lines };
}

async function nextLine(lines: AsyncIterator<string>): Promise<string> {
  const { value, done } = await lines.next();
  if (done) throw new Error('child ended early');
  return value;
}

interface Row { form: Form; pieceBytes: number; inFlight: number; hash: boolean; gibPerSec: number; serverCpuPerGib: number; clientCpuPerGib: number }

async function measure(form: Form, total: number, pieceBytes: number, inFlight: number, hash: boolean): Promise<Row> {
  const server = child(['--role', 'server', '--form', form, '--piece', String(pieceBytes)]);
  const port = await nextLine(server.lines);
  const client = child(['--role', 'client', '--form', form, '--piece', String(pieceBytes), '--port', port,
    '--total', String(total), '--in-flight', String(inFlight), ...(hash ? ['--hash'] : [])]);
  const report = JSON.parse(await nextLine(client.lines)) as Report;
  server.proc.stdin!.write('stop\n');
  const serverCpu = (JSON.parse(await nextLine(server.lines)) as { cpuSeconds: number }).cpuSeconds;
  const gib = report.bytes / 2 ** 30;
  return { form, pieceBytes, inFlight, hash, gibPerSec: gib / report.wallSeconds, serverCpuPerGib: serverCpu / gib, clientCpuPerGib: report.cpuSeconds / gib };
}

const opts = new Command('bench:data-plane')
  .option('--total <size>', 'bytes to move per form', '1GiB')
  .option('--piece <size>', 'piece size', '12MiB')
  .option('--in-flight <n>', 'requests running at once (peerDownLimit)', '4')
  .option('--hash', 'hash every piece on receipt (as dfget does)', false)
  .option('--rounds <n>', 'rounds over all forms (interleaved, so load changes hit each form alike)', '3')
  .option('--out <dir>', 'where data-plane.csv goes', 'out/bench')
  .option('--role <role>')
  .option('--form <form>')
  .option('--port <port>')
  .parse()
  .opts<{ total: string; piece: string; inFlight: string; hash: boolean; rounds: string; role?: string; form?: Form; port?: string; out?: string }>();

const pieceBytes = parseBytes(opts.piece);
if (opts.role === 'server') {
  await serve(opts.form!, pieceBytes);
} else if (opts.role === 'client') {
  const clientOpts = { port: Number(opts.port), pieceBytes, pieces: Math.ceil(parseBytes(opts.total) / pieceBytes), inFlight: Number(opts.inFlight), hash: opts.hash };
  const run = { ws: wsClient, 'ws-raw': wsRawClient, http: httpClient, 'http-raw': rawClient }[opts.form!];
  process.stdout.write(`${JSON.stringify(await run(clientOpts))}\n`);
  process.exit(0);
} else {
  const rows: Row[] = [];
  for (let round = 0; round < Number(opts.rounds); round++) {
    for (const form of FORMS) rows.push(await measure(form, parseBytes(opts.total), pieceBytes, Number(opts.inFlight), opts.hash));
  }
  console.log(`${formatBytes(parseBytes(opts.total))} per run in ${formatBytes(pieceBytes)} pieces, ${opts.inFlight} in flight${opts.hash ? ', hashed' : ''}`);
  console.log('form        GiB/s   server CPU s/GiB   client CPU s/GiB   (median of rounds)');
  for (const form of FORMS) {
    const mine = rows.filter((r) => r.form === form);
    const med = (f: (r: Row) => number): number => median(mine.map(f));
    console.log(`${form.padEnd(10)}${med((r) => r.gibPerSec).toFixed(2).padStart(7)}${med((r) => r.serverCpuPerGib).toFixed(3).padStart(19)}`
      + `${med((r) => r.clientCpuPerGib).toFixed(3).padStart(19)}`);
  }
  const out = opts.out!;
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'data-plane.csv'), stringify(rows, { header: true }));
  console.log(`wrote ${join(out, 'data-plane.csv')}`);
}
