/**
 * dfget's command line as a user meets it: bad flags exit 2 naming the flag, an unreachable
 * supernode exits 3 with what to do, a source that answers 404 exits 4, and --pattern source
 * downloads exact bytes with no supernode at all (and says it ran with the default settings).
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DEFAULT_PEER_SETTINGS } from '../../../core/settings.ts';
import type { DownloadResult } from '../../../transport/dfget/download.ts';
import { HttpOrigin } from '../../../bench/testbed/http-origin.ts';
import { stopUploaderOf } from '../../../bench/testbed/stop-uploader.ts';
import { freePort, REPO_ROOT, removeDir, tempDir } from '../../../bench/testbed/processes.ts';

interface Run { code: number; stdout: string; stderr: string }

function dfget(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(REPO_ROOT, 'bin', 'dfget.js'), ...args], { cwd: REPO_ROOT }, (err, stdout, stderr) => {
      resolve({ code: err ? (err as { code?: number }).code ?? 1 : 0, stdout, stderr });
    });
  });
}

let origin: HttpOrigin;
let home = '';

test.before(async () => {
  origin = await HttpOrigin.start();
  home = tempDir('dfget-cli');
});

test.after(async () => {
  await stopUploaderOf(home);
  await origin.close();
  removeDir(home);
});

test('bad flags exit 2 and name the problem', async () => {
  const badRate = await dfget(['-u', 'http://127.0.0.1/x', '-o', join(home, 'x'), '--locallimit', '10Q']);
  assert.is(badRate.code, 2);
  assert.match(badRate.stderr, '--locallimit');
  const badUrl = await dfget(['-u', 'ftp://example.org/x', '-o', join(home, 'x')]);
  assert.is(badUrl.code, 2);
  assert.match(badUrl.stderr, 'only http and https');
  const badNode = await dfget(['-u', 'http://127.0.0.1/x', '-o', join(home, 'x'), '--node', 'host:99999']);
  assert.is(badNode.code, 2);
  assert.match(badNode.stderr, 'is not host:port');
});

test('an unreachable supernode with --no-back-source exits 3 and says what to do', async () => {
  const port = await freePort();
  const run = await dfget(['-u', origin.urlFor('/none'), '-o', join(home, 'a'), '--home', home, '--node', `127.0.0.1:${port}`,
    '--no-back-source', '--uploader-idle-exit', '10s']);
  assert.is(run.code, 3, run.stderr);
  assert.match(run.stderr, `cannot reach supernode 127.0.0.1:${port} (ECONNREFUSED); is it running? set --node`);
});

test('--pattern source: exact bytes without a supernode; a 404 exits 4', async () => {
  const content = randomBytes(5 * 1024 * 1024 + 17);
  await origin.put('/file.bin', content);
  const ok = await dfget(['-u', origin.urlFor('/file.bin'), '-o', join(home, 'file.bin'), '--home', home, '--pattern', 'source',
    '--locallimit', '0', '--json', '--uploader-idle-exit', '10s']);
  assert.is(ok.code, 0, ok.stderr);
  const result = JSON.parse(ok.stdout) as DownloadResult;
  const digest = `sha256:${createHash('sha256').update(content).digest('hex')}`;
  assert.is(result.fromSourceBytes, content.length);
  assert.is(result.fileDigest, digest);
  assert.equal(result.settings, { origin: 'default', ...DEFAULT_PEER_SETTINGS }, 'no supernode gave settings: --json says it ran the defaults');
  assert.is(`sha256:${createHash('sha256').update(readFileSync(join(home, 'file.bin'))).digest('hex')}`, digest);
  const missing = await dfget(['-u', origin.urlFor('/missing.bin'), '-o', join(home, 'm.bin'), '--home', home, '--pattern', 'source']);
  assert.is(missing.code, 4, missing.stderr);
  assert.match(missing.stderr, '404');
});

test.run();
