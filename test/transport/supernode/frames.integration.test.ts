/**
 * Hostile input at the real supernode's ports: thousands of malformed, mutated, random and
 * oversized frames on the control plane (/peer) and the data plane (/data). Every frame must get
 * an answer or a clean close (4400 bad request, 1009 too big) — never a crash, a hang or a
 * non-protocol reply — and afterwards a well-behaved peer still downloads a file.
 *
 * After each fuzz frame a canary message with a known answer is sent on the same connection:
 * its answer proves the connection (and the process) survived the frame; a close instead must
 * carry one of the clean codes.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { decodeJson, decodeSupernodeToPeer } from '../../../core/decode.ts';
import { HttpOrigin } from '../../../bench/testbed/http-origin.ts';
import { taskIdFor } from '../../../transport/task-id.ts';
import { CONTROL_PATH, DATA_PATH, MAX_FRAME_BYTES } from '../../../transport/wire.ts';
import { ProcessGroup, removeDir, tempDir, type RunningProcess } from '../../../bench/testbed/processes.ts';
import { downloadThroughSupernode } from '../../helpers/supernode-peer.ts';

const CANARY_TASK = 'f'.repeat(64);
const CANARY_REQUEST_ID = 987_654;
const CLEAN_CLOSE_CODES = new Set([4400, 1009]);
const RUNS = Number(process.env.FUZZ_RUNS ?? 1500);

type Frame = { text: string } | { binary: Uint8Array };
type Outcome = { kind: 'alive' } | { kind: 'closed'; code: number; reason: string };

/** One connection, reopened after every close; `probe` sends a frame, then the canary. */
class FuzzLink {
  private ws: WebSocket | null = null;
  private opened = 0;
  private listener: ((outcome: Outcome) => void) | null = null;

  constructor(private readonly url: (n: number) => string, private readonly plane: 'control' | 'data') {}

  async probe(frame: Frame): Promise<Outcome> {
    const ws = await this.open();
    const outcome = new Promise<Outcome>((resolve) => { this.listener = resolve; });
    if ('text' in frame) ws.send(frame.text); else ws.send(frame.binary, { binary: true });
    ws.send(JSON.stringify(this.plane === 'control'
      ? { kind: 'pull', taskId: CANARY_TASK, results: [] }
      : { kind: 'piece-request', requestId: CANARY_REQUEST_ID, taskId: CANARY_TASK, piece: 0 }));
    return outcome;
  }

  close(): void { this.ws?.close(); }

  private async open(): Promise<WebSocket> {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) return this.ws;
    const ws = new WebSocket(this.url(++this.opened), { maxPayload: MAX_FRAME_BYTES * 2 });
    ws.on('message', (data, isBinary) => this.onMessage(data.toString(), isBinary));
    ws.on('close', (code, reason) => {
      if (this.ws === ws) this.ws = null;
      this.settle({ kind: 'closed', code, reason: reason.toString() });
    });
    ws.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject); });
    this.ws = ws;
    return ws;
  }

  private onMessage(text: string, isBinary: boolean): void {
    if (isBinary) throw new Error(`the supernode sent a binary frame for a request it never got on ${this.plane}`);
    if (this.plane === 'control') {
      const decoded = decodeJson(text, decodeSupernodeToPeer);
      if (!decoded.ok) throw new Error(`the supernode sent a non-protocol message: ${text.slice(0, 200)}`);
      const msg = decoded.msg;
      if (msg.kind === 'task-failed' && msg.taskId === CANARY_TASK) this.settle({ kind: 'alive' });
    } else {
      const msg = JSON.parse(text) as { kind?: string; requestId?: number };
      if (msg.kind !== 'piece-refused') throw new Error(`unexpected data-plane answer: ${text.slice(0, 200)}`);
      if (msg.requestId === CANARY_REQUEST_ID) this.settle({ kind: 'alive' });
    }
  }

  private settle(outcome: Outcome): void {
    const listener = this.listener;
    this.listener = null;
    listener?.(outcome);
  }
}

let origin: HttpOrigin;
let supernode: RunningProcess;
let home: string;
const procs = new ProcessGroup();

test.before(async () => {
  origin = await HttpOrigin.start();
  home = tempDir('supernode-fuzz');
  supernode = await procs.start('supernode', ['--home', home, '--piece-size-bytes', '65536', '--seed', 'fuzz', '--log-level', 'error'],
    { portFlag: '--port' });
});

test.after(async () => {
  await procs.stopAll();
  await origin.close();
  removeDir(home);
});

const FUZZ_TASK = taskIdFor({ url: 'http://127.0.0.1:9/fuzz' });
const VALID_CONTROL = [
  { kind: 'register', taskId: FUZZ_TASK, task: { url: 'http://127.0.0.1:9/fuzz', headers: {} }, uploadAddr: '127.0.0.1:1', have: [], blacklist: [], pattern: 'p2p' },
  { kind: 'pull', taskId: FUZZ_TASK, results: [{ piece: 0, source: '@supernode', ok: false, failure: 'timeout' }] },
  { kind: 'report', taskId: FUZZ_TASK, results: [] },
  { kind: 'leave', taskId: FUZZ_TASK },
];
const VALID_DATA = [{ kind: 'piece-request', requestId: 1, taskId: FUZZ_TASK, piece: 0 }];

/** A valid message with one field replaced by an arbitrary value, or removed. */
function mutated(valid: Record<string, unknown>[]): fc.Arbitrary<Frame> {
  return fc.tuple(fc.constantFrom(...valid), fc.nat(), fc.option(fc.jsonValue({ maxDepth: 3 }), { nil: undefined }))
    .map(([msg, which, value]) => {
      const keys = Object.keys(msg);
      const copy: Record<string, unknown> = { ...msg };
      const key = keys[which % keys.length];
      if (value === undefined) delete copy[key]; else copy[key] = value;
      return { text: JSON.stringify(copy) };
    });
}

function frames(valid: Record<string, unknown>[]): fc.Arbitrary<Frame> {
  return fc.oneof(
    fc.string({ maxLength: 200 }).map((text) => ({ text })),
    fc.jsonValue({ maxDepth: 4 }).map((value) => ({ text: JSON.stringify(value) ?? 'null' })),
    mutated(valid),
    mutated(valid),
    fc.uint8Array({ maxLength: 200 }).map((binary) => ({ binary })),
    fc.integer({ min: 1, max: 5000 }).map((depth) => ({ text: `${'['.repeat(depth)}${']'.repeat(depth)}` })),
    fc.constantFrom(...valid).map((msg) => ({ text: JSON.stringify(msg).slice(0, -1) })),
  );
}

async function fuzz(name: string, link: FuzzLink, valid: Record<string, unknown>[]): Promise<void> {
  const replay = process.env.FC_PROPERTY === name && process.env.FC_SEED !== undefined;
  const property = fc.asyncProperty(frames(valid), async (frame) => {
    const outcome = await link.probe(frame);
    if (outcome.kind === 'closed' && !CLEAN_CLOSE_CODES.has(outcome.code)) {
      throw new Error(`connection closed with ${outcome.code} (${outcome.reason}), not a clean code`);
    }
  });
  const details = await fc.check(property, {
    numRuns: RUNS, ...(replay ? { seed: Number(process.env.FC_SEED), path: process.env.FC_PATH, endOnFailure: true } : {}),
  });
  if (!details.failed) return;
  const file = relative(process.cwd(), fileURLToPath(import.meta.url));
  throw new Error(`property "${name}" failed\n${fc.defaultReportMessage(details) ?? ''}\n`
    + `rerun: FC_PROPERTY='${name}' FC_SEED=${details.seed} FC_PATH='${details.counterexamplePath ?? ''}' node --import tsx ${file}`);
}

test('control plane: random and malformed frames get an answer or a clean close', async () => {
  const link = new FuzzLink((n) => `ws://${supernode.addr}${CONTROL_PATH}?peerId=fuzz-${n}`, 'control');
  try {
    await fuzz('control-frames', link, VALID_CONTROL);
  } catch (err) {
    procs.printLogs();
    throw err;
  } finally {
    link.close();
  }
});

test('data plane: random and malformed frames get an answer or a clean close', async () => {
  const link = new FuzzLink(() => `ws://${supernode.addr}${DATA_PATH}`, 'data');
  try {
    await fuzz('data-frames', link, VALID_DATA);
  } catch (err) {
    procs.printLogs();
    throw err;
  } finally {
    link.close();
  }
});

test('oversized frames are cut by maxPayload with 1009', async () => {
  const huge = 'x'.repeat(MAX_FRAME_BYTES + 1);
  for (const [url, plane] of [[`ws://${supernode.addr}${CONTROL_PATH}?peerId=huge`, 'control'], [`ws://${supernode.addr}${DATA_PATH}`, 'data']] as const) {
    const outcome = await new FuzzLink(() => url, plane).probe({ text: huge });
    assert.equal(outcome.kind === 'closed' ? outcome.code : outcome.kind, 1009, plane);
  }
});

test('after all that, the process is alive and a well-behaved peer downloads a file', async () => {
  const file = Buffer.from(Array.from({ length: 300_000 }, (_, i) => i % 253));
  await origin.put('/after.bin', file);
  const got = await downloadThroughSupernode(supernode.addr, { url: origin.urlFor('/after.bin'), headers: {} }, 'well-behaved');
  assert.ok(got.bytes.equals(file));
  assert.is(supernode.exit, null, 'the supernode never exited');
  assert.is((await fetch(`http://${supernode.addr}/healthz`)).status, 200);
});

test.run();
