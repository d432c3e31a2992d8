/**
 * Credentials inside a URL (`http://user:password@host/file`) are used to fetch the source and
 * written nowhere: not in the supernode's log or stderr, not in the CDN's `meta.json` (which is
 * also readable by its owner only), not in dfget's `dfclient.log` or its resume `.meta` file. The
 * URL is still logged, with its user information replaced by `***`.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Swarm, waitFor } from './harness.ts';

const SECRET = 's3cr3t-pw';
const FILE_BYTES = 4 * 1024 * 1024;

/** Every small text file under `dir` (logs, JSON, meta), with its contents. */
function textFiles(dir: string): { path: string; text: string }[] {
  const out: { path: string; text: string }[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const stats = statSync(path);
    if (stats.isDirectory()) out.push(...textFiles(path));
    else if (/\.(log|json|meta|err|tmp)$/.test(name) && stats.size < 8 * 1024 * 1024) out.push({ path, text: readFileSync(path, 'utf8') });
  }
  return out;
}

test('a URL with user:password@ never reaches a log, meta.json (0600) or dfclient.log', async () => {
  await Swarm.run(async (swarm) => {
    const plain = await swarm.serveRandom('/private.bin', FILE_BYTES, { auth: { user: 'alice', password: SECRET } });
    const url = plain.replace('http://', `http://alice:${SECRET}@`);
    const missing = `${new URL(url).origin.replace('http://', `http://alice:${SECRET}@`)}/missing.bin`;
    const supernode = await swarm.startSupernode(['--piece-size-bytes', '512KiB', '--revalidate-after-ms', '0']);

    const first = await swarm.dfget(swarm.newHome('first'), url, [supernode.addr]);
    await first.result;
    assert.is(await swarm.fileDigest(first.output), swarm.contentDigest, 'the credentials in the URL fetched the private file');
    // A second host revalidates the cached task (logged with its URL) and is interrupted
    // mid-download, so its resume meta file stays on disk.
    const slowHome = swarm.newHome('slow');
    const slow = await swarm.dfget(slowHome, url, [supernode.addr], ['--locallimit', '512K']);
    await waitFor(() => swarm.verifiedPiecesIn(slowHome) >= 1, 30_000, 'the slow host to verify a piece');
    await slow.proc.kill9();
    const failed = await swarm.dfget(swarm.newHome('missing'), missing, [supernode.addr]);
    assert.is((await failed.proc.exited).code, 4, 'a 404 source exits 4');

    const files = textFiles(swarm.root);
    const metaFiles = files.filter((f) => f.path.endsWith('meta.json'));
    assert.ok(metaFiles.length >= 1, 'the CDN wrote a meta.json');
    for (const meta of metaFiles) assert.is(statSync(meta.path).mode & 0o777, 0o600, `${meta.path} is readable by its owner only`);
    const snLog = files.find((f) => f.path.endsWith('supernode.log'));
    assert.ok(snLog && snLog.text.includes('http://***@127.0.0.1'), 'the supernode logs the URL with its credentials replaced');
    const leaks = [...files, { path: 'supernode stderr', text: supernode.stderr }].filter((f) => f.text.includes(SECRET));
    assert.equal(leaks.map((f) => f.path), [], 'no file or stream holds the password');
    assert.ok(files.some((f) => f.path.endsWith('dfclient.log') && f.text.includes('http://***@127.0.0.1')), 'dfclient.log names the URL, redacted');
    assert.ok(files.some((f) => f.path.endsWith('.meta')), 'the interrupted download left its resume meta file');
  });
});

test.run();
