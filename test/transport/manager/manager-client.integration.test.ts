/**
 * The manager client library against a real manager process on 127.0.0.1: the seed's steps
 * (ask, cache in meta, use the cache next time, re-ask once when every supernode failed) and
 * working with the manager down when the cache is warm. The attempt stands in for a download:
 * it "registers" with the first supernode in its list that answers /healthz, in order.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ManagerClient, ManagerUnreachableError, NoSupernodeError, parseManagerList } from '../../../transport/manager/client.ts';
import { freePort, removeDir, tempDir, withProcesses, type ProcessGroup, type RunningProcess } from '../../../bench/testbed/processes.ts';

class AllSupernodesFailed extends Error {}

/** Registers with the first live supernode of the list; every one dead = AllSupernodesFailed. */
function attemptLog(): { tried: string[][]; attempt: (list: string[]) => Promise<string> } {
  const tried: string[][] = [];
  return {
    tried,
    attempt: async (list) => {
      tried.push(list);
      for (const address of list) {
        const ok = await fetch(`http://${address}/healthz`, { signal: AbortSignal.timeout(2000) }).then((r) => r.ok, () => false);
        if (ok) return address;
      }
      throw new AllSupernodesFailed(`cannot reach any of ${list.join(', ')}`);
    },
  };
}
const allFailed = (err: unknown) => err instanceof AllSupernodesFailed;

async function announce(manager: string, address: string, idc: string): Promise<void> {
  const res = await fetch(`http://${manager}/v1/supernodes`, { method: 'POST', body: JSON.stringify({ address, idc }) });
  assert.is(res.status, 200, await res.text());
}
async function withdraw(manager: string, address: string): Promise<void> {
  assert.is((await fetch(`http://${manager}/v1/supernodes/${address}`, { method: 'DELETE' })).status, 204);
}
async function queries(manager: string): Promise<number> {
  const text = await (await fetch(`http://${manager}/metrics`)).text();
  return Number(/^manager_queries_total (\d+)$/m.exec(text)?.[1]);
}

async function startPair(procs: ProcessGroup, work: string, managerPort?: number): Promise<{ manager: RunningProcess; sn: RunningProcess }> {
  const manager = await procs.start('manager', ['--ttl', '1h'], { portFlag: '--port', ...(managerPort ? { port: managerPort } : {}) });
  const sn = await procs.start('supernode', ['--home', join(work, 'sn')], { portFlag: '--port' });
  return { manager, sn };
}

test('cold: asks the manager and caches the answer; warm: uses the cache, even with the manager down', async () => {
  const work = tempDir('manager-client');
  const metaDir = join(work, 'home', 'meta');
  try {
    await withProcesses(async (procs) => {
      const { manager, sn } = await startPair(procs, work);
      await announce(manager.addr, '127.0.0.1:1', 'idc-a');
      await announce(manager.addr, sn.addr, 'idc-b');
      const opts = { managers: parseManagerList(manager.addr), idc: 'idc-b', location: '', metaDir };
      const first = await new ManagerClient(opts).supernodes();
      assert.equal(first, { supernodes: [sn.addr, '127.0.0.1:1'], from: 'manager' });
      const meta = JSON.parse(await readFile(join(metaDir, 'manager.json'), 'utf8'));
      assert.is(meta.assigned, sn.addr);
      assert.equal(meta.managers, [`http://${manager.addr}`]);
      assert.is(await queries(manager.addr), 1);

      const warm = new ManagerClient(opts);
      assert.equal(await warm.supernodes(), { supernodes: [sn.addr, '127.0.0.1:1'], from: 'cache' });
      assert.is(await queries(manager.addr), 1, 'a warm cache does not ask the manager');

      await manager.stop();
      const { tried, attempt } = attemptLog();
      assert.is(await new ManagerClient(opts).run(attempt, allFailed), sn.addr, 'works with the manager down');
      assert.equal(tried, [[sn.addr, '127.0.0.1:1']]);

      // Another IDC is another question: the cache does not answer it, and the manager is down.
      const moved = new ManagerClient({ ...opts, idc: 'idc-c' });
      const err = await moved.supernodes().then(() => null, (e: unknown) => e);
      assert.instance(err, ManagerUnreachableError);
      assert.match((err as Error).message, new RegExp(`^cannot reach manager ${manager.addr.replace(/\./g, '\\.')} \\(ECONNREFUSED\\); is it running\\? set --manager, or give --node$`));
    });
  } finally {
    removeDir(work);
  }
});

test('every cached supernode failed: the manager is asked exactly once more, meta updated, and the retry succeeds', async () => {
  const work = tempDir('manager-client-reask');
  const metaDir = join(work, 'home', 'meta');
  try {
    await withProcesses(async (procs) => {
      const { manager, sn } = await startPair(procs, work);
      await announce(manager.addr, '127.0.0.1:1', 'idc-b');
      const opts = { managers: [`http://${manager.addr}`], idc: 'idc-b', location: '', metaDir };
      assert.equal((await new ManagerClient(opts).supernodes()).supernodes, ['127.0.0.1:1']);
      // The fleet changed since the host cached its list.
      await withdraw(manager.addr, '127.0.0.1:1');
      await announce(manager.addr, sn.addr, 'idc-b');
      const before = await queries(manager.addr);

      const { tried, attempt } = attemptLog();
      assert.is(await new ManagerClient(opts).run(attempt, allFailed), sn.addr);
      assert.equal(tried, [['127.0.0.1:1'], [sn.addr]]);
      assert.is(await queries(manager.addr), before + 1, 'one more question to the manager');
      assert.is(JSON.parse(await readFile(join(metaDir, 'manager.json'), 'utf8')).assigned, sn.addr, 'meta updated');

      // Still failing after the re-ask: the job fails, with no third question.
      await withdraw(manager.addr, sn.addr);
      await announce(manager.addr, '127.0.0.2:1', 'idc-b');
      await writeFile(join(metaDir, 'manager.json'), (await readFile(join(metaDir, 'manager.json'), 'utf8')).replaceAll(sn.addr, '127.0.0.3:1'));
      const failing = attemptLog();
      const err = await new ManagerClient(opts).run(failing.attempt, allFailed).then(() => null, (e: unknown) => e);
      assert.instance(err, AllSupernodesFailed);
      assert.equal(failing.tried, [['127.0.0.3:1'], ['127.0.0.2:1']]);
      assert.is(await queries(manager.addr), before + 2);

      // Other errors (a 404 from the source, say) are the job's at once: no re-ask.
      const other = await new ManagerClient(opts).run(() => Promise.reject(new Error('HTTP 404')), allFailed).then(() => null, (e: unknown) => e);
      assert.match((other as Error).message, /HTTP 404/);
      assert.is(await queries(manager.addr), before + 2);
    });
  } finally {
    removeDir(work);
  }
});

test('re-ask with the manager down says both what failed and that the manager could not be asked', async () => {
  const work = tempDir('manager-client-down');
  const metaDir = join(work, 'home', 'meta');
  try {
    await withProcesses(async (procs) => {
      const manager = await procs.start('manager', [], { portFlag: '--port' });
      await announce(manager.addr, '127.0.0.1:1', '');
      const opts = { managers: [`http://${manager.addr}`], idc: '', location: '', metaDir };
      await new ManagerClient(opts).supernodes();
      await manager.stop();
      const err = await new ManagerClient(opts).run(attemptLog().attempt, allFailed).then(() => null, (e: unknown) => e);
      assert.instance(err, ManagerUnreachableError);
      assert.match((err as Error).message, /^cannot reach any of 127\.0\.0\.1:1; asking the manager for other supernodes failed too: cannot reach manager .*ECONNREFUSED/);
    });
  } finally {
    removeDir(work);
  }
});

test('an old cache is refreshed from the manager, and still used if no manager answers; a corrupt one counts as none', async () => {
  const work = tempDir('manager-client-stale');
  const metaDir = join(work, 'home', 'meta');
  try {
    await withProcesses(async (procs) => {
      const port = await freePort();
      const { manager, sn } = await startPair(procs, work, port);
      await announce(manager.addr, sn.addr, 'x');
      const warnings: string[] = [];
      const opts = { managers: [`http://${manager.addr}`], idc: 'x', location: '', metaDir, refreshAfterMs: 60_000, log: (_: string, m: string) => warnings.push(m) };
      await new ManagerClient(opts).refresh(Date.now() - 120_000);
      const before = await queries(manager.addr);
      assert.is((await new ManagerClient(opts).supernodes()).from, 'manager', 'older than refreshAfterMs: asked again');
      assert.is(await queries(manager.addr), before + 1);

      await new ManagerClient(opts).refresh(Date.now() - 120_000);
      await manager.stop();
      assert.equal(await new ManagerClient(opts).supernodes(), { supernodes: [sn.addr], from: 'cache' });
      assert.ok(warnings.some((w) => /cannot reach manager .*; using the supernode list cached at/.test(w)), warnings.join('\n'));

      await writeFile(join(metaDir, 'manager.json'), '{"version":1,"managers":[');
      const err = await new ManagerClient(opts).supernodes().then(() => null, (e: unknown) => e);
      assert.instance(err, ManagerUnreachableError, 'a corrupt cache is no cache');
    });
  } finally {
    removeDir(work);
  }
});

test('a manager with no supernode says so and what to do; manager lists are checked', async () => {
  const work = tempDir('manager-client-empty');
  try {
    await withProcesses(async (procs) => {
      const manager = await procs.start('manager', [], { portFlag: '--port' });
      const err = await new ManagerClient({ managers: [`http://${manager.addr}`], idc: '', location: '', metaDir: join(work, 'meta') })
        .supernodes().then(() => null, (e: unknown) => e);
      assert.instance(err, NoSupernodeError);
      assert.match((err as Error).message, /knows no live supernode; start supernodes with --manager http:\/\/127\.0\.0\.1:\d+, or give --node/);
    });
    assert.equal(parseManagerList('10.0.0.9:8004, https://m.example:443'), ['http://10.0.0.9:8004', 'https://m.example']);
    assert.throws(() => parseManagerList('ftp://x:1'), /must be http\(s\):\/\/host:port/);
    assert.throws(() => parseManagerList('http://x:1/api'), /no path/);
    assert.throws(() => parseManagerList(' , '), /at least one manager/);
  } finally {
    removeDir(work);
  }
});

test.run();
