/**
 * The uploader's data port against hostile input: malformed, oversized and random frames end in
 * an answer or a clean close, never a hang or a crash, and the uploader keeps serving correct
 * bytes to well-behaved peers. Thousands of fast-check cases; a failure prints how to replay it.
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocket } from 'ws';
import { removeDir, tempDir } from '../../../bench/testbed/processes.ts';
import { startUploader, type UploaderHandle } from '../../../transport/uploader/uploader-server.ts';
import { decodePieceFrame, MAX_FRAME_BYTES } from '../../../transport/wire.ts';

const PIECE_BYTES = 64 * 1024;
const TOTAL_BYTES = 3 * PIECE_BYTES - 100;
const TASK_ID = createHash('sha256').update('uploader-frames').digest('hex');
const content = Buffer.alloc(TOTAL_BYTES);
for (let i = 0; i < TOTAL_BYTES; i++) content[i] = (i * 31 + 7) & 0xff;

let home = '';
let uploader: UploaderHandle;

test.before(async () => {
  home = tempDir('uploader-frames');
  uploader = await startUploader({ homeDir: home, host: '127.0.0.1', port: 0, idleExitMs: 0 });
  writeFileSync(join(home, 'data', `${TASK_ID}.server`), content);
  uploader.listTask({ taskId: TASK_ID, fileName: `${TASK_ID}.server`, totalBytes: TOTAL_BYTES, pieceSizeBytes: PIECE_BYTES, pieceCount: 3 });
  uploader.havePiece(TASK_ID, 0);
  uploader.havePiece(TASK_ID, 2);
});

test.after(async () => {
  await uploader.close();
  removeDir(home);
});

type Answer = { kind: 'data'; piece: number; bytes: Buffer } | { kind: 'refused'; reason: string } | { kind: 'closed'; code: number };

function open(): Promise<WebSocket> {
  const ws = new WebSocket(`ws://${uploader.addr}/data`, { maxPayload: MAX_FRAME_BYTES });
  return new Promise((resolve, reject) => { ws.once('open', () => resolve(ws)); ws.once('error', reject); });
}

/** Send `frames`, then a valid request; resolve with its answer, or the close if the uploader hung up. */
function probe(ws: WebSocket, frames: (string | Buffer)[], piece: number): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no answer and no close within 3 s')), 3000);
    const done = (a: Answer): void => { clearTimeout(timer); ws.removeAllListeners(); ws.on('error', () => {}); resolve(a); };
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) {
        const frame = decodePieceFrame(data);
        if (!frame.ok) return reject(new Error(`uploader sent a malformed frame: ${frame.error.message}`));
        if (frame.header.requestId === 999_999) done({ kind: 'data', piece: frame.header.piece, bytes: frame.bytes });
        return;
      }
      const msg = JSON.parse(data.toString()) as { kind: string; requestId: number; reason: string };
      if (msg.kind !== 'piece-refused') return reject(new Error(`unexpected text frame ${data.toString().slice(0, 80)}`));
      if (msg.requestId === 999_999) done({ kind: 'refused', reason: msg.reason });
    });
    ws.on('close', (code: number) => done({ kind: 'closed', code }));
    ws.on('error', () => {});
    for (const frame of frames) ws.send(frame, { binary: Buffer.isBuffer(frame) });
    ws.send(JSON.stringify({ kind: 'piece-request', requestId: 999_999, taskId: TASK_ID, piece }));
  });
}

function expectedPiece(piece: number): Buffer {
  return content.subarray(piece * PIECE_BYTES, Math.min((piece + 1) * PIECE_BYTES, TOTAL_BYTES));
}

async function checkAsyncProperty<Ts>(name: string, property: fc.IAsyncProperty<Ts>, params: fc.Parameters<Ts>): Promise<void> {
  const replaying = process.env.FC_PROPERTY === name && process.env.FC_SEED !== undefined;
  const details = await fc.check(property, replaying
    ? { ...params, seed: Number(process.env.FC_SEED), path: process.env.FC_PATH, endOnFailure: true }
    : params);
  if (!details.failed) return;
  const file = relative(process.cwd(), fileURLToPath(import.meta.url));
  throw new Error(`property "${name}" failed\n${fc.defaultReportMessage(details) ?? ''}\n`
    + `rerun: FC_PROPERTY='${name}' FC_SEED=${details.seed} FC_PATH='${details.counterexamplePath ?? ''}' node --import tsx ${file}`);
}

const jsonish = fc.oneof(
  fc.record({
    kind: fc.constantFrom('piece-request', 'piece-data', 'piece-refused', 'register', 'x'),
    requestId: fc.oneof(fc.nat(), fc.integer(), fc.double(), fc.string()),
    taskId: fc.oneof(fc.constant(TASK_ID), fc.string(), fc.constant('../../etc/passwd'), fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 64, maxLength: 64 })),
    piece: fc.oneof(fc.integer({ min: -2, max: 5 }), fc.constant(2 ** 40), fc.string()),
  }, { requiredKeys: [] }),
  fc.jsonValue(),
).map((v) => JSON.stringify(v));

/** Well-formed requests the uploader must answer (served or refused) without dropping the peer. */
const validRequest = fc.record({
  kind: fc.constant('piece-request'),
  requestId: fc.nat({ max: 1000 }),
  taskId: fc.oneof(fc.constant(TASK_ID), fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 64, maxLength: 64 })),
  piece: fc.nat({ max: 5 }),
}).map((v) => JSON.stringify(v));

const frameArb = fc.oneof(
  { weight: 5, arbitrary: validRequest },
  { weight: 3, arbitrary: jsonish },
  { weight: 2, arbitrary: fc.string({ maxLength: 200 }) },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)) },
  { weight: 1, arbitrary: fc.constant(Buffer.alloc(70 * 1024, 0x7b)) },
  { weight: 1, arbitrary: fc.constant('{"kind":"piece-request","requestId":1,"taskId":"' + 'a'.repeat(70_000) + '","piece":0}') },
);

test('random frames end in an answer or a clean close, and good requests still get correct bytes', async () => {
  let served = 0;
  let closed = 0;
  await checkAsyncProperty('random-frames', fc.asyncProperty(
    fc.array(frameArb, { minLength: 1, maxLength: 4 }), fc.constantFrom(0, 1, 2),
    async (frames, piece) => {
      const ws = await open();
      const answer = await probe(ws, frames, piece);
      ws.terminate();
      if (answer.kind === 'closed') {
        closed++;
        return answer.code === 4400 || answer.code === 1009 || answer.code === 1002 || answer.code === 1007;
      }
      // Uploads of earlier cases may still hold every slot: "busy" is a correct answer too.
      if (answer.kind === 'refused' && answer.reason === 'busy') return true;
      if (piece === 1) return answer.kind === 'refused' && answer.reason === 'missing';
      served++;
      return answer.kind === 'data' && answer.piece === piece && answer.bytes.equals(expectedPiece(piece));
    },
  ), { numRuns: 2000 });
  console.log(`  random frames: ${served} probes served after junk, ${closed} connections closed by the uploader`);
  const ws = await open();
  const answer = await probe(ws, [], 2);
  ws.close();
  assert.is(answer.kind, 'data');
  assert.ok(answer.kind === 'data' && answer.bytes.equals(expectedPiece(2)));
  assert.ok(uploader.stats().badFrames > 0, 'some junk was rejected');
});

test('a request for a path-like or unknown task is refused as missing', async () => {
  const ws = await open();
  const answers: string[] = [];
  await new Promise<void>((resolve) => {
    ws.on('message', (data: Buffer) => { answers.push(data.toString()); if (answers.length === 2) resolve(); });
    ws.send(JSON.stringify({ kind: 'piece-request', requestId: 1, taskId: '../../../etc/passwd', piece: 0 }));
    ws.send(JSON.stringify({ kind: 'piece-request', requestId: 2, taskId: 'f'.repeat(64), piece: 0 }));
  });
  ws.close();
  for (const text of answers) assert.is(JSON.parse(text).reason, 'missing');
});

test.run();
