/**
 * Hostile peers for the live rounds, speaking the protocol by script:
 *
 * - `lie`: registers for the task and reports every piece it is assigned from a peer as corrupt
 *   (each result twice, in case a supernode counts repeats), without fetching anything, for up to
 *   `pulls` pulls; it never claims a piece.
 * - `serveCorrupt`: an uploader that claims every piece and answers each request with bytes of
 *   the right size that are not the piece.
 * - `offeredSources`: fresh probes, each registering with nothing and pulling once, that record
 *   which sources the supernode sends a newcomer to. An honest seed that holds every piece and is
 *   never offered while the supernode is offered instead is treated as globally blacklisted:
 *   that is what the blacklist does (no one is sent to it), whatever its shape inside.
 */
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import type { PieceResult, TaskSpec } from '../../core/protocol.ts';
import { SUPERNODE } from '../../core/protocol.ts';
import { taskIdFor } from '../../transport/task-id.ts';
import { encodePieceFrame, MAX_FRAME_BYTES } from '../../transport/wire.ts';
import { ScriptControl } from '../testbed/script-peer.ts';

export async function lie(addr: string, spec: TaskSpec, peerId: string, pulls: number): Promise<number> {
  const taskId = taskIdFor(spec);
  const control = await ScriptControl.connect(addr, peerId);
  let lies = 0;
  try {
    control.send({ kind: 'register', taskId, task: spec, uploadAddr: '127.0.0.1:1', have: [], blacklist: [], pattern: 'p2p' });
    for (let pull = 0; pull < pulls; pull++) {
      const msg = await control.poll(2000);
      if (!msg || msg.kind === 'task-failed') break;
      if (msg.kind === 'file-digest') continue;
      if (msg.kind === 'task-info' || msg.kind === 'wait') { control.send({ kind: 'pull', taskId, results: [] }); continue; }
      // Sent only to the supernode: isolated, nothing left to lie about.
      if (msg.pieces.length > 0 && msg.pieces.every((a) => a.source === SUPERNODE)) break;
      const results: PieceResult[] = msg.pieces.filter((a) => a.source !== SUPERNODE)
        .flatMap((a) => [0, 1].map(() => ({ piece: a.piece, source: a.source, ok: false, failure: 'corrupt' as const })));
      lies += results.length / 2;
      control.send({ kind: 'pull', taskId, results });
    }
    control.send({ kind: 'leave', taskId });
  } finally {
    control.close();
  }
  return lies;
}

/** An uploader serving wrong bytes, registered as holding all `pieceCount` pieces; returns its closer. */
export async function serveCorrupt(addr: string, spec: TaskSpec, peerId: string, pieceCount: number, pieceBytes: number): Promise<() => void> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: MAX_FRAME_BYTES });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  server.on('connection', (ws) => ws.on('message', (data) => {
    try {
      const req = JSON.parse(data.toString()) as { requestId: number; taskId: string; piece: number };
      const bytes = Buffer.alloc(pieceBytes, 0x5a ^ req.piece);
      ws.send(encodePieceFrame({ kind: 'piece-data', requestId: req.requestId, taskId: req.taskId, piece: req.piece, sizeBytes: bytes.length }, bytes));
    } catch { ws.close(); }
  }));
  const taskId = taskIdFor(spec);
  const control = await ScriptControl.connect(addr, peerId);
  const uploadAddr = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const have: [number, number][] = [[0, pieceCount]];
  control.send({ kind: 'register', taskId, task: spec, uploadAddr, have, blacklist: [], pattern: 'p2p' });
  return () => { control.close(); for (const ws of server.clients) ws.terminate(); server.close(); };
}

/** Upload addresses the supernode offers to `probes` fresh newcomers, and whether it offered itself. */
export async function offeredSources(addr: string, spec: TaskSpec, probes: number): Promise<{ peers: Set<string>; supernodeOffered: boolean }> {
  const taskId = taskIdFor(spec);
  const peers = new Set<string>();
  let supernodeOffered = false;
  const open: ScriptControl[] = [];
  try {
    for (let p = 0; p < probes; p++) {
      const control = await ScriptControl.connect(addr, `chaos-probe-${p}-${Date.now()}`);
      open.push(control);
      control.send({ kind: 'register', taskId, task: spec, uploadAddr: '127.0.0.1:1', have: [], blacklist: [], pattern: 'p2p' });
      for (let step = 0; step < 4; step++) {
        const msg = await control.poll(3000);
        if (!msg || msg.kind === 'task-failed') break;
        if (msg.kind !== 'assign') { control.send({ kind: 'pull', taskId, results: [] }); continue; }
        for (const a of msg.pieces) if (a.source === SUPERNODE) supernodeOffered = true; else peers.add(a.sourceAddr);
        break;
      }
    }
  } finally {
    for (const control of open) { control.send({ kind: 'leave', taskId }); control.close(); }
  }
  return { peers, supernodeOffered };
}
