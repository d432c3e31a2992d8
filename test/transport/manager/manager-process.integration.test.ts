/**
 * The managing node as real processes on 127.0.0.1: a manager and two supernodes announcing from
 * different IDCs; a host in IDC b is assigned the IDC-b supernode and given the whole list; a
 * supernode killed with -9 stops heartbeating and is dropped after the TTL; one shut down cleanly
 * withdraws at once; a supernode started before its manager announces once the manager is up.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { freePort, REPO_ROOT, removeDir, tempDir, withProcesses } from '../../../bench/testbed/processes.ts';

interface Answer { assigned: string | null; supernodes: { address: string; idc: string; location: string }[] }

async function ask(manager: string, query: string): Promise<Answer> {
  const res = await fetch(`http://${manager}/v1/supernodes?${query}`);
  assert.is(res.status, 200);
  return await res.json() as Answer;
}

async function waitFor<T>(what: string, probe: () => Promise<T | null>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('manager --help explains every flag and the API; a bad flag exits 2 naming it', () => {
  const help = spawnSync(process.execPath, [join(REPO_ROOT, 'bin', 'manager.js'), '--help'], { encoding: 'utf8' });
  assert.is(help.status, 0);
  for (const flag of ['--host', '--port', '--ttl', '--max-supernodes', '--log-level', 'POST   /v1/supernodes', 'GET    /v1/supernodes?idc=&location=']) {
    assert.ok(help.stdout.includes(flag), `--help lacks ${flag}`);
  }
  const bad = spawnSync(process.execPath, [join(REPO_ROOT, 'bin', 'manager.js'), '--ttl', '10ms'], { encoding: 'utf8' });
  assert.is(bad.status, 2);
  assert.match(bad.stderr, /manager: .*--ttl.*must be from 1 s/);
  const snBad = spawnSync(process.execPath, [join(REPO_ROOT, 'bin', 'supernode.js'), '--manager', 'http://x:1', '--host', '0.0.0.0'], { encoding: 'utf8' });
  assert.is(snBad.status, 2);
  assert.match(snBad.stderr, /--manager: peers cannot dial 0\.0\.0\.0; set --advertise-ip/);
});

test('two supernodes in IDCs a and b: a host in b gets b first and the full list; a silent one is dropped after the TTL', async () => {
  const work = tempDir('manager');
  try {
    await withProcesses(async (procs) => {
      const manager = await procs.start('manager', ['--ttl', '3s'], { portFlag: '--port' });
      const url = `http://${manager.addr}`;
      const a = await procs.start('supernode', ['--home', join(work, 'a'), '--manager', url, '--idc', 'idc-a', '--location', 'cn|hz|r1'], { portFlag: '--port' });
      const b = await procs.start('supernode', ['--home', join(work, 'b'), '--manager', manager.addr, '--idc', 'idc-b', '--location', 'cn|sh'], { portFlag: '--port' });
      await waitFor('both supernodes listed', async () => ((await ask(manager.addr, '')).supernodes.length === 2 ? true : null));

      const forB = await ask(manager.addr, 'idc=idc-b');
      assert.equal(forB, {
        assigned: b.addr,
        supernodes: [{ address: b.addr, idc: 'idc-b', location: 'cn|sh' }, { address: a.addr, idc: 'idc-a', location: 'cn|hz|r1' }],
      });
      assert.is((await ask(manager.addr, 'idc=idc-a')).assigned, a.addr);
      assert.is((await ask(manager.addr, 'idc=elsewhere&location=cn%7Chz%7Cr9')).assigned, a.addr, 'no IDC match: nearest location wins');

      // kill -9: no withdrawal, no more heartbeats. The lease (3 s from the last heartbeat) runs out.
      const killedAtMs = Date.now();
      await a.kill9();
      const survivors = await waitFor('the killed supernode dropped', async () => {
        const answer = await ask(manager.addr, 'idc=idc-a');
        return answer.supernodes.length === 1 ? answer : null;
      });
      const droppedAfterMs = Date.now() - killedAtMs;
      assert.equal(survivors.supernodes.map((s) => s.address), [b.addr]);
      assert.is(survivors.assigned, b.addr, 'a host of IDC a falls back to the other IDC');
      // Generous bound: the machine may be loaded; what matters is the TTL, not a poll or a restart.
      assert.ok(droppedAfterMs <= 8000, `dropped after ${droppedAfterMs} ms, TTL 3000 ms`);
      // Logged whichever call dropped it (the lease timer, b's heartbeat or our query, if one came first),
      // through the manager's stderr pipe, which may lag behind its HTTP answer.
      const dropLine = new RegExp(`dropped supernode ${a.addr}: no announcement for 3000 ms`);
      await waitFor('the manager to log the drop', async () => (dropLine.test(manager.stderr) ? true : null));

      // b keeps heartbeating (every second) across more than a TTL.
      await new Promise((r) => setTimeout(r, 3500));
      assert.is((await ask(manager.addr, '')).supernodes.length, 1, 'a heartbeating supernode stays listed');

      // A clean shutdown withdraws at once.
      await b.stop('SIGTERM');
      assert.is((await ask(manager.addr, '')).supernodes.length, 0);
      const metrics = await (await fetch(`http://${manager.addr}/metrics`)).text();
      assert.match(metrics, /^manager_supernodes_dropped_total\{reason="expired"\} 1$/m);
      assert.match(metrics, /^manager_supernodes_dropped_total\{reason="withdrawn"\} 1$/m);
      console.log(`manager: killed supernode dropped ${droppedAfterMs} ms after kill -9 (TTL 3000 ms, heartbeat every 1000 ms)`);
    });
  } finally {
    removeDir(work);
  }
});

test('a supernode started before its manager keeps retrying and is listed once the manager is up', async () => {
  const work = tempDir('manager-late');
  try {
    await withProcesses(async (procs) => {
      const managerPort = await freePort();
      const sn = await procs.start('supernode', ['--home', join(work, 'sn'), '--manager', `127.0.0.1:${managerPort}`, '--idc', 'x'], { portFlag: '--port' });
      await new Promise((r) => setTimeout(r, 1500));
      const manager = await procs.start('manager', [], { portFlag: '--port', port: managerPort });
      const answer = await waitFor('the early supernode listed', async () => {
        const a = await ask(manager.addr, 'idc=x');
        return a.assigned ? a : null;
      });
      assert.is(answer.assigned, sn.addr);
      assert.match(sn.stderr, new RegExp(`cannot announce to manager http://127\\.0\\.0\\.1:${managerPort}: cannot reach it \\(ECONNREFUSED\\)`));
      assert.is(sn.stderr.match(/cannot announce to manager/g)?.length, 1, 'one warning while the manager is down, not one per retry');
    });
  } finally {
    removeDir(work);
  }
});

test('bad requests get a 4xx saying what is wrong; the manager keeps serving', async () => {
  await withProcesses(async (procs) => {
    const manager = await procs.start('manager', ['--max-supernodes', '1'], { portFlag: '--port' });
    const api = `http://${manager.addr}/v1/supernodes`;
    const post = (body: string) => fetch(api, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    const cases: [Promise<Response>, number, RegExp][] = [
      [post('{"address":"10.0.0.1"}'), 400, /bad announcement: \$\.address: "10\.0\.0\.1" is not host:port/],
      [post('not json'), 400, /not valid JSON/],
      [post(JSON.stringify({ address: 'a:1', location: 'x'.repeat(5000) })), 413, /over the 4096-byte limit/],
      [fetch(`${api}?idc=a%20b`), 400, /bad query: idc "a b" may hold only/],
      [fetch(`${api}/10.0.0.9%3A8002`, { method: 'DELETE' }), 404, /10\.0\.0\.9:8002 is not listed/],
      [fetch(`${api}/%E0%A4%A`, { method: 'DELETE' }), 400, /percent-encoding/],
      [fetch(api, { method: 'PUT', body: '{}' }), 405, /use POST to announce, GET to ask/],
      [fetch(`http://${manager.addr}/nope`), 404, /the API is under \/v1\/supernodes/],
    ];
    for (const [pending, status, message] of cases) {
      const res = await pending;
      const body = await res.json() as { error: string };
      assert.is(res.status, status, body.error);
      assert.match(body.error, message);
    }
    assert.is((await post('{"address":"10.0.0.1:8002"}')).status, 200);
    const full = await post('{"address":"10.0.0.2:8002"}');
    assert.is(full.status, 503);
    assert.match(((await full.json()) as { error: string }).error, /limit of 1 supernodes; .*raise --max-supernodes/);
    assert.is((await fetch(`http://${manager.addr}/healthz`)).status, 200);
  });
});

test.run();
