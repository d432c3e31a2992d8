/**
 * The CDN's raw HTTP reader against real servers on 127.0.0.1: bodies land intact in rooms of any
 * size (the bytes read with the head, the first read after it, later reads straight into the
 * rooms), with a sink that makes it wait; connections are reused, and one the server closed while
 * idle is replaced without the caller noticing; a body cut short, one without a length, and a
 * cancelled read all fail instead of passing as a piece.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { HttpOrigin } from '../../../bench/testbed/http-origin.ts';
import { RawHttpClient, type BodySink } from '../../../transport/cdn/raw-http.ts';
import { sleep } from '../../../transport/real-timer.ts';

const content = randomBytes(3 * 1024 * 1024 + 12345);
let origin: HttpOrigin;

test.before(async () => {
  origin = await HttpOrigin.start();
  await origin.put('/file.bin', content);
});

test.after(async () => {
  await origin.close();
});

/** A sink writing into one big buffer through rooms of `roomBytes`, waiting `waitEvery` fills. */
function collector(total: number, roomBytes: number, waitEvery = 0): { sink: BodySink; bytes: Buffer; fills: () => number } {
  const bytes = Buffer.alloc(total);
  let at = 0;
  let fills = 0;
  return {
    bytes,
    fills: () => fills,
    sink: {
      room: () => bytes.subarray(at, Math.min(total, at + roomBytes)),
      filled: (n) => {
        at += n;
        fills++;
        return waitEvery > 0 && fills % waitEvery === 0 ? sleep(2) : undefined;
      },
    },
  };
}

test('a ranged body lands intact through rooms of odd sizes, with and without waits', async () => {
  const client = new RawHttpClient();
  for (const [roomBytes, waitEvery] of [[1000, 0], [64 * 1024 + 7, 3], [8 * 1024 * 1024, 1]] as const) {
    const start = 4321;
    const end = content.length - 99;
    const res = await client.get(new URL(origin.urlFor('/file.bin')), { range: `bytes=${start}-${end - 1}` }, new AbortController().signal);
    assert.is(res.status, 206);
    assert.is(res.contentLength, end - start);
    const { sink, bytes } = collector(end - start, roomBytes, waitEvery);
    assert.is(await res.pipeTo(sink), end - start);
    assert.ok(bytes.equals(content.subarray(start, end)), `rooms of ${roomBytes} bytes`);
  }
  client.close();
});

test('connections are reused; one the server closed while idle is replaced unnoticed', async () => {
  let connections = 0;
  const sockets: Socket[] = [];
  const body = Buffer.from('hello, raw world');
  const server: Server = createServer((socket) => {
    connections++;
    sockets.push(socket);
    socket.on('data', () => socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n${body}`));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/x`);
  const client = new RawHttpClient();
  const fetchOnce = async (): Promise<string> => {
    const res = await client.get(url, {}, new AbortController().signal);
    const { sink, bytes } = collector(body.length, 5);
    await res.pipeTo(sink);
    return bytes.toString();
  };
  assert.is(await fetchOnce(), body.toString());
  assert.is(await fetchOnce(), body.toString());
  assert.is(connections, 1, 'the second GET reused the connection');
  for (const socket of sockets) socket.destroy();
  await sleep(50);
  assert.is(await fetchOnce(), body.toString());
  assert.is(connections, 2, 'a new connection replaced the closed one');
  client.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

test('a body cut short, a body without a length and a cancelled read fail', async () => {
  const client = new RawHttpClient();
  await origin.put('/cut.bin', content, { dropAfterBytes: 100_000, dropTimes: 1 });
  const cut = await client.get(new URL(origin.urlFor('/cut.bin')), {}, new AbortController().signal);
  assert.is(cut.contentLength, content.length);
  const err = await cut.pipeTo(collector(content.length, 65536).sink).catch((e: Error & { code?: string }) => e);
  assert.instance(err, Error);
  assert.is((err as { code?: string }).code, 'ECONNRESET');

  await origin.put('/chunked.bin', content, { hideLength: true });
  const chunked = await client.get(new URL(origin.urlFor('/chunked.bin')), {}, new AbortController().signal);
  assert.is(chunked.contentLength, null, 'chunked: no length, so the caller hands it to node:http');
  chunked.discard();

  await origin.put('/slow.bin', content);
  origin.setRate(1024 * 1024);
  const abort = new AbortController();
  const slow = await client.get(new URL(origin.urlFor('/slow.bin')), {}, abort.signal);
  setTimeout(() => abort.abort(), 100);
  const aborted = await slow.pipeTo(collector(content.length, 65536).sink).catch((e: Error) => e);
  assert.instance(aborted, Error);
  origin.setRate(0);
  client.close();
});

test.run();
