/**
 * Admission: a private task's pieces go only to requesters the supernode admitted. The taskId is
 * the SHA-256 of the URL, so anyone who knows the URL can name the task; naming it is not enough.
 * A piece request with no grant, a forged one, one for another task or one the requester's own
 * registration could not get (wrong credentials) gets no bytes — from the supernode's data plane
 * or from the uploader of a host that holds the file. A requester the supernode admitted (right
 * credentials) gets its grant in task-info and is served by both, and a real dfget with the
 * credentials gets bytes from the holding host.
 */
import { randomBytes } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Grant, SupernodeToPeer, TaskSpec } from '../../../core/protocol.ts';
import { taskIdFor } from '../../../transport/task-id.ts';
import { readLock } from '../../../transport/uploader/uploader-lock.ts';
import { ControlClient, DataClient, type PieceAnswer } from '../../helpers/supernode-peer.ts';
import { Swarm } from './harness.ts';

const FILE_BYTES = 2 * 1024 * 1024;
const USER = 'ci';
const PASSWORD = 'hunter2';
const basic = (password: string) => ({ Authorization: `Basic ${Buffer.from(`${USER}:${password}`).toString('base64')}` });

/** Register `spec` and return the first answer that is not a wait (task-info or task-failed). */
async function register(addr: string, spec: TaskSpec, peerId: string): Promise<SupernodeToPeer> {
  const control = await ControlClient.connect(addr, peerId);
  try {
    control.send({ kind: 'register', taskId: taskIdFor(spec), task: spec, uploadAddr: '127.0.0.1:9', have: [], blacklist: [], pattern: 'cdn' });
    for (;;) {
      const msg = await control.next(15_000);
      if (msg.kind !== 'wait') return msg;
    }
  } finally {
    control.close();
  }
}

function describe(answer: PieceAnswer): string {
  return answer.kind === 'data' ? `data ${answer.bytes.length}` : answer.kind === 'refused' ? `refused ${answer.reason}` : `closed ${answer.code}`;
}

test('a private task: no grant, a forged or foreign grant gets no bytes from the supernode or an uploader; a granted request does', async () => {
  await Swarm.run(async (swarm) => {
    const publicUrl = await swarm.serveRandom('/public.bin', 64 * 1024);
    const url = await swarm.serveRandom('/private.bin', FILE_BYTES, { auth: { user: USER, password: PASSWORD } });
    const supernode = await swarm.startSupernode(['--piece-size-bytes', '256KiB']);
    const holderHome = swarm.newHome('holder');
    const holder = await swarm.dfget(holderHome, url, [supernode.addr], ['--header', `Authorization: ${basic(PASSWORD).Authorization}`, '--locallimit', '0']);
    await holder.result;
    const lock = (await readLock(holderHome))!;
    const taskId = taskIdFor({ url });
    const forged: Grant = { taskId, peer: 'intruder', expiresAtMs: Date.now() + 3_600_000, signature: randomBytes(64).toString('base64') };
    // Someone who knows only the URL: the taskId is public, the bytes are not.
    for (const [where, addr] of [['supernode', supernode.addr], ['holder\'s uploader', lock.addr]]) {
      const data = await DataClient.connect(addr);
      assert.is(describe(await data.request(taskId, 0)), 'refused unauthorized', `${where}, no grant`);
      assert.is(describe(await data.request(taskId, 0, forged)), 'refused unauthorized', `${where}, a forged grant`);
      data.close();
    }

    const refusedByWrongPassword = await register(supernode.addr, { url, headers: basic('guess') }, 'intruder');
    assert.is(refusedByWrongPassword.kind, 'task-failed', 'wrong credentials: no task-info, so no grant');
    const foreign = await register(supernode.addr, { url: publicUrl, headers: {} }, 'intruder-public');
    const admitted = await register(supernode.addr, { url, headers: basic(PASSWORD) }, 'colleague');
    assert.ok(foreign.kind === 'task-info' && foreign.grant && admitted.kind === 'task-info' && admitted.grant, 'task-info carries a grant');
    const foreignGrant = (foreign as { grant: Grant }).grant;
    const validGrant = (admitted as { grant: Grant }).grant;
    const tampered: Grant = { ...validGrant, peer: 'intruder' };

    for (const [where, addr] of [['supernode', supernode.addr], ['holder\'s uploader', lock.addr]]) {
      const data = await DataClient.connect(addr);
      try {
        for (const [what, grant] of [['no grant', undefined], ['a forged grant', forged], ['a grant for another task', foreignGrant],
          ['a tampered grant', tampered]] as [string, Grant | undefined][]) {
          const answer = await data.request(taskId, 0, grant);
          assert.is(describe(answer), 'refused unauthorized', `${where}, ${what}`);
        }
        const granted = await data.request(taskId, 0, validGrant);
        assert.is(describe(granted), 'data 262144', `${where}, the admitted requester's grant`);
        assert.ok(granted.kind === 'data' && granted.bytes.equals(swarm.content.subarray(0, 256 * 1024)));
      } finally {
        data.close();
      }
    }

    const colleague = await swarm.dfget(swarm.newHome('colleague'), url, [supernode.addr],
      ['--header', `Authorization: ${basic(PASSWORD).Authorization}`, '--locallimit', '0']);
    const result = await colleague.result;
    assert.is(await swarm.fileDigest(colleague.output), swarm.contentDigest);
    assert.ok(result.fromPeersBytes > 0, 'the admitted dfget got bytes from the holding host');
  });
});

test.run();
