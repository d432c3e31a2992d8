/**
 * A cached task is revalidated with its source at most once per `revalidateAfterMs` (default
 * 60 s): a fleet pulling one blob sends its registry one conditional GET a minute, not one per
 * host. A private task's credential check is remembered for the same interval, per credentials.
 * (Registrations that arrive while a revalidation runs share its answer: test/core/supernode.test.ts.)
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { HttpOrigin } from '../../../bench/testbed/http-origin.ts';
import { ProcessGroup, removeDir, tempDir } from '../../../bench/testbed/processes.ts';
import { downloadThroughSupernode } from '../../helpers/supernode-peer.ts';

const FILE = Buffer.from(Array.from({ length: 3 * 256 * 1024 + 5 }, (_, i) => (i * 7) % 251));
const HOSTS = 10;
let peers = 0;

async function withSupernode(flags: string[], body: (addr: string, origin: HttpOrigin) => Promise<void>): Promise<void> {
  const origin = await HttpOrigin.start();
  const home = tempDir('revalidate');
  const procs = new ProcessGroup();
  try {
    const supernode = await procs.start('supernode', ['--home', home, '--piece-size-bytes', '256KiB', ...flags], { portFlag: '--port' });
    await body(supernode.addr, origin);
  } catch (err) {
    procs.printLogs();
    throw err;
  } finally {
    await procs.stopAll();
    await origin.close();
    removeDir(home);
  }
}

/** Download, then wait for the CDN's whole-file digest (only a finished task is revalidated). */
async function warm(addr: string, url: string, headers: Record<string, string> = {}): Promise<void> {
  const first = await downloadThroughSupernode(addr, { url, headers }, `warm-${++peers}`);
  assert.ok(first.bytes.equals(FILE));
  for (let i = 0; i < 200 && !(await fetch(`http://${addr}/metrics`).then((r) => r.text())).includes('supernode_cdn_fetches_completed_total 1'); i++) {
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function manyHosts(addr: string, url: string, headers: Record<string, string> = {}): Promise<void> {
  const got = await Promise.all(Array.from({ length: HOSTS }, () => downloadThroughSupernode(addr, { url, headers }, `host-${++peers}`)));
  for (const g of got) assert.ok(g.bytes.equals(FILE));
}

test(`default settings: ${HOSTS} hosts registering a cached task within a minute send the source no request`, () =>
  withSupernode([], async (addr, origin) => {
    await origin.put('/blob', FILE);
    await warm(addr, origin.urlFor('/blob'));
    origin.resetStats();
    await manyHosts(addr, origin.urlFor('/blob'));
    for (let i = 0; i < 3; i++) await downloadThroughSupernode(addr, { url: origin.urlFor('/blob'), headers: {} }, `later-${i}`);
    assert.is(origin.stats.requests, 0, `the source got ${origin.stats.requests} requests`);
  }));

test(`a private task: ${HOSTS} hosts with the same credentials cost the source one credential check`, () =>
  withSupernode([], async (addr, origin) => {
    await origin.put('/private', FILE, { auth: { user: 'u', password: 'p' } });
    const headers = { Authorization: `Basic ${Buffer.from('u:p').toString('base64')}` };
    await warm(addr, origin.urlFor('/private'), headers);
    origin.resetStats();
    await manyHosts(addr, origin.urlFor('/private'), headers);
    assert.ok(origin.stats.requests <= 1, `the source got ${origin.stats.requests} requests`);
  }));

test.run();
