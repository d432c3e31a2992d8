/**
 * Liars cannot blacklist the honest. 200 scripted peers register for a task an honest host seeds
 * and report every piece they are sent to fetch from a peer as failed (half of them first claim
 * one success, to look like peers with a good record). The honest host is not put on the global
 * blacklist, and a real dfget started afterwards still gets bytes from it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SUPERNODE, type PieceResult, type TaskSpec } from '../../../core/protocol.ts';
import { readLock } from '../../../transport/uploader/uploader-lock.ts';
import { taskIdFor } from '../../../transport/task-id.ts';
import { ControlClient } from '../../helpers/supernode-peer.ts';
import { Swarm, waitFor } from './harness.ts';

const LIARS = Number(process.env.LIARS ?? 200);
const FILE_BYTES = 4 * 1024 * 1024;
const ROUNDS = 8;

/** One liar: pulls up to ROUNDS times and reports each peer assignment as failed (after one claimed success if `credible`). */
async function lie(addr: string, spec: TaskSpec, id: string, credible: boolean): Promise<number> {
  const taskId = taskIdFor(spec);
  const client = await ControlClient.connect(addr, id);
  client.send({ kind: 'register', taskId, task: spec, uploadAddr: '127.0.0.1:9', have: [], blacklist: [], pattern: 'p2p' });
  let claimed = !credible;
  let lies = 0;
  for (let round = 0; round < ROUNDS;) {
    const msg = await client.poll(2000);
    if (msg === null) { client.send({ kind: 'pull', taskId, results: [] }); round++; continue; }
    if (msg.kind === 'task-failed') break;
    if (msg.kind === 'task-info') { client.send({ kind: 'pull', taskId, results: [] }); continue; }
    if (msg.kind === 'file-digest') continue;
    if (msg.kind === 'wait') { await new Promise((r) => setTimeout(r, Math.min(msg.retryAfterMs, 200))); client.send({ kind: 'pull', taskId, results: [] }); round++; continue; }
    const results: PieceResult[] = msg.pieces.map((a) => {
      if (a.source === SUPERNODE) return { piece: a.piece, source: a.source, ok: false, failure: 'busy' };
      if (!claimed) { claimed = true; return { piece: a.piece, source: a.source, ok: true }; }
      lies++;
      return { piece: a.piece, source: a.source, ok: false, failure: 'corrupt' };
    });
    if (results.length > 0 || msg.retryAfterMs > 0) { client.send({ kind: 'pull', taskId, results }); round++; }
  }
  // It leaves (its pieces still running are released); what it said stays on the supernode's record.
  client.send({ kind: 'leave', taskId });
  client.close();
  return lies;
}

test(`${LIARS} lying peers do not get an honest host globally blacklisted; a real dfget still gets bytes from it`, async () => {
  await Swarm.run(async (swarm) => {
    const url = await swarm.serveRandom('/honest.bin', FILE_BYTES);
    const supernode = await swarm.startSupernode(['--piece-size-bytes', '256KiB']);
    const honestHome = swarm.newHome('honest');
    await (await swarm.dfget(honestHome, url, [supernode.addr], ['--locallimit', '0'])).result;
    const honestPort = (await readLock(honestHome))!.port;
    let seeded = false;
    const poll = setInterval(() => void fetch(`http://${supernode.addr}/metrics`).then((r) => r.text())
      .then((text) => { seeded ||= /^supernode_peers 1$/m.test(text); }, () => {}), 100);
    try {
      await waitFor(() => seeded, 15_000, 'the honest host\'s seeder to register the task');
    } finally {
      clearInterval(poll);
    }

    const spec: TaskSpec = { url, headers: {} };
    const liars = await Promise.all(Array.from({ length: LIARS }, (_, i) => lie(supernode.addr, spec, `liar-${i}`, i % 2 === 0)));
    const lies = liars.reduce((sum, l) => sum + l, 0);
    const later = await swarm.dfget(swarm.newHome('later'), url, [supernode.addr], ['--locallimit', '0']);
    const result = await later.result;
    assert.is(await swarm.fileDigest(later.output), swarm.contentDigest);
    const snHome = readdirSync(swarm.root).find((name) => name.startsWith('sn-'))!;
    const log = readFileSync(join(swarm.root, snHome, 'logs', 'supernode.log'), 'utf8');
    const laterId = /peer (\S+)/.exec(swarm.logOf(later.home))![1];
    const blacklistedHonest = log.split('\n').filter((line) => /global blacklist|isolat/.test(line)
      && (line.includes(`-seed-${honestPort}-`) || line.includes(laterId)));
    console.log(`  ${lies} lies from ${LIARS} liars; the later host got ${result.fromPeersBytes} of ${FILE_BYTES} bytes from peers`);
    assert.ok(lies >= 5, `the liars told only ${lies} lies: the attack did not run`);
    assert.equal(blacklistedHonest, [], 'neither honest host was blacklisted or isolated');
    assert.ok(result.fromPeersBytes > 0, 'the later host got no byte from the honest host');
  });
});

test.run();
