/**
 * Delivering fuzz inputs: WebSocket frames in batches on a connection that is reopened whenever
 * the server closes it (a bad frame closes it by design), each batch ended by a ping whose pong
 * proves the server has read every frame before it; raw HTTP requests on fresh TCP connections,
 * several at a time, each read until the server answers and closes (or a short timeout).
 * Counts what was delivered and how the server answered; never judges: the campaign checks the
 * process afterwards.
 */
import { connect } from 'node:net';
import WebSocket from 'ws';
import { MAX_FRAME_BYTES } from '../../transport/wire.ts';
import type { Frame } from './fuzz-inputs.ts';

/** One frame, then a ping: the pong (or the close) proves the server read that frame before the next. */
const BATCH = 1;
const ANSWER_TIMEOUT_MS = 5000;

export interface FuzzTally { inputs: number; closes: number; connectFailures: number; answered: number }

function open(url: string): Promise<WebSocket | null> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { maxPayload: MAX_FRAME_BYTES, handshakeTimeout: ANSWER_TIMEOUT_MS });
    ws.on('error', () => resolve(null));
    ws.once('open', () => resolve(ws));
  });
}

/** Send `frames` to `url` (a fresh URL per connection from `urlFor`). */
export async function fuzzWebSocket(urlFor: (n: number) => string, frames: Frame[]): Promise<FuzzTally> {
  const tally: FuzzTally = { inputs: 0, closes: 0, connectFailures: 0, answered: 0 };
  let ws: WebSocket | null = null;
  let connections = 0;
  for (let i = 0; i < frames.length; i += BATCH) {
    if (!ws || ws.readyState !== WebSocket.OPEN) {
      ws = await open(urlFor(connections++));
      if (!ws) { tally.connectFailures++; if (tally.connectFailures > 50) break; continue; }
      ws.on('message', () => { tally.answered++; });
      ws.on('close', () => { tally.closes++; });
    }
    for (const frame of frames.slice(i, i + BATCH)) {
      if (ws.readyState !== WebSocket.OPEN) break;
      ws.send(frame, { binary: typeof frame !== 'string' });
      tally.inputs++;
    }
    await settled(ws);
  }
  ws?.terminate();
  return tally;
}

/** Until the server has read everything sent so far (pong), or the connection is gone. */
function settled(ws: WebSocket): Promise<void> {
  if (ws.readyState !== WebSocket.OPEN) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => { clearTimeout(timer); ws.off('pong', done); ws.off('close', done); resolve(); };
    const timer = setTimeout(done, ANSWER_TIMEOUT_MS);
    ws.once('pong', done);
    ws.once('close', done);
    ws.ping();
  });
}

/** Send each raw request on its own connection to 127.0.0.1:port, `parallel` at a time. */
export async function fuzzHttp(port: number, requests: Buffer[], parallel = 8): Promise<FuzzTally> {
  const tally: FuzzTally = { inputs: 0, closes: 0, connectFailures: 0, answered: 0 };
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < requests.length) {
      const request = requests[next++];
      const answer = await rawExchange(port, request);
      if (answer === 'connect-failed') tally.connectFailures++;
      else { tally.inputs++; if (answer === 'answered') tally.answered++; }
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return tally;
}

function rawExchange(port: number, request: Buffer): Promise<'answered' | 'silent' | 'connect-failed'> {
  return new Promise((resolve) => {
    let connected = false;
    let answered = false;
    const socket = connect(port, '127.0.0.1', () => { connected = true; socket.end(request); });
    const finish = (): void => { clearTimeout(timer); socket.destroy(); resolve(!connected ? 'connect-failed' : answered ? 'answered' : 'silent'); };
    const timer = setTimeout(finish, 2000);
    socket.on('data', () => { answered = true; });
    socket.on('close', finish);
    socket.on('error', finish);
  });
}
