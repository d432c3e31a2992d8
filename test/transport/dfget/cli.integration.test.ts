/**
 * dfget's command line as a user meets it: bad flags exit 2 naming the flag, an unreachable
 * supernode exits 3 with what to do, a source that answers 404 exits 4, and --pattern source
 * downloads exact bytes with no supernode at all (and says it ran with the default settings).
 * Falling back to the source is said on the terminal; Dragonfly's spellings work (--notbs,
 * -s/--showbar, --md5, --callsystem, --verbose, --timeout in seconds); --help explains the
 * background uploader.
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
import { freePort, REPO_ROOT, removeDir, startBin, tempDir } from '../../../bench/testbed/processes.ts';

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

test('--help explains the background uploader and lists its idle-exit flag and Dragonfly\'s spellings', async () => {
  const help = await dfget(['--help']);
  assert.is(help.code, 0);
  const text = help.stdout.replace(/\s+/g, ' ');
  for (const wanted of ['Background uploader:', 'stays after dfget exits', '--uploader-idle-exit <duration>', '--notbs', '-s, --showbar',
    '-m, --md5 <hex>', '--callsystem <name>', '--verbose', 'seconds, or with a unit']) {
    assert.ok(text.includes(wanted), `--help mentions ${wanted}`);
  }
});

test('an unreachable supernode sends dfget to the source and it says so on the terminal; --notbs fails instead', async () => {
  const content = randomBytes(300_000);
  await origin.put('/fallback.bin', content);
  const port = await freePort();
  const run = await dfget(['-u', origin.urlFor('/fallback.bin'), '-o', join(home, 'fallback.bin'), '--home', home, '--node', `127.0.0.1:${port}`,
    '--quiet', '--uploader-idle-exit', '10s']);
  assert.is(run.code, 0, run.stderr);
  assert.match(run.stderr, `dfget: cannot reach supernode 127.0.0.1:${port} (ECONNREFUSED); downloading from the source instead`);
  assert.ok(readFileSync(join(home, 'fallback.bin')).equals(content));
  const notbs = await dfget(['-u', origin.urlFor('/fallback.bin'), '-o', join(home, 'fallback2.bin'), '--home', home, '--node', `127.0.0.1:${port}`,
    '--notbs', '--uploader-idle-exit', '10s']);
  assert.is(notbs.code, 3, notbs.stderr);
});

test('--md5 is checked (a wrong one exits 5); --callsystem is accepted and noted; --verbose and -s print on stderr', async () => {
  const content = randomBytes(2 * 1024 * 1024 + 3);
  await origin.put('/md5.bin', content);
  const md5 = createHash('md5').update(content).digest('hex');
  const sn = await startBin('supernode', ['--home', join(home, 'sn')], { portFlag: '--port' });
  try {
    const common = ['-u', origin.urlFor('/md5.bin'), '--home', home, '--node', sn.addr, '--uploader-idle-exit', '10s'];
    const ok = await dfget([...common, '-o', join(home, 'md5.bin'), '--md5', md5, '--callsystem', 'ci-job', '--verbose', '-s']);
    assert.is(ok.code, 0, ok.stderr);
    assert.ok(readFileSync(join(home, 'md5.bin')).equals(content));
    assert.match(ok.stderr, /dfget: info start http:/, '--verbose: log lines on stderr');
    assert.match(ok.stderr, /\] 100% /, '-s: the progress bar although stderr is not a terminal');
    assert.match(readFileSync(join(home, 'logs', 'dfclient.log'), 'utf8'), '--callsystem "ci-job" is accepted for Dragonfly compatibility and ignored');
    const wrong = await dfget([...common, '-o', join(home, 'md5-wrong.bin'), '--digest', `md5:${'0'.repeat(32)}`, '--quiet']);
    assert.is(wrong.code, 5, wrong.stderr);
    assert.match(wrong.stderr, 'but --md5 says 00000000000000000000000000000000');
  } finally {
    await sn.stop();
  }
});

test('a bare --timeout is seconds (Dragonfly\'s dfget reads it so); units are accepted', async () => {
  await origin.put('/stall.bin', randomBytes(1000), { stallMs: 20_000 });
  const started = performance.now();
  const run = await dfget(['-u', origin.urlFor('/stall.bin'), '-o', join(home, 'stall.bin'), '--home', home, '--pattern', 'source', '--timeout', '1']);
  const seconds = (performance.now() - started) / 1000;
  assert.is(run.code, 6, run.stderr);
  assert.match(run.stderr, 'did not finish within 1000 ms');
  assert.ok(seconds < 15, `gave up after ${seconds.toFixed(1)} s`);
  const bad = await dfget(['-u', origin.urlFor('/stall.bin'), '-o', join(home, 'x'), '--timeout', '5 parsecs']);
  assert.is(bad.code, 2);
  assert.match(bad.stderr, '--timeout');
});

test.run();
