/**
 * Slow-fetch rescue, live: what a holder that stops answering costs a download, with the rescue
 * off (the seed's behaviour: each stuck fetch waits out `pieceTimeoutMs`) and on
 * (`--slow-fetch-factor`, core/peer.ts). On 127.0.0.1: an origin, a supernode, a holder that
 * downloads the file first, then a downloader at `--locallimit`; once the downloader has verified
 * `--freeze-after` pieces from the holder, the holder's background uploader gets
 * SIGSTOP (its sockets stay open and nothing comes back: a hung process or a dead path without a
 * reset). Each case starts from fresh homes and a fresh supernode.
 *
 *   npm run bench:rescue -- [--file 32MiB] [--piece 256KiB] [--locallimit 4M] [--factors 0,3]
 *     [--min-ms 500] [--freeze-after 8] [--out out/bench]
 *
 * Prints the downloader's time per case beside the time the same download takes with no fault
 * (file / locallimit), and writes slow-rescue.csv.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Command } from 'commander';
import { stringify } from 'csv-stringify/sync';
import { formatBytes, parseBytes, parseRate } from '../core/units.ts';
import { readLock } from '../transport/uploader/uploader-lock.ts';
import { HttpOrigin } from './testbed/http-origin.ts';
import { stopUploaderOf } from './testbed/stop-uploader.ts';
import { removeDir, startBin, tempDir, timeDfget, waitFor } from './testbed/processes.ts';
import { flagValue } from './flag-value.ts';

const opts = new Command('bench:rescue')
  .description('a holder stops answering mid-download: the download with the slow-fetch rescue off and on')
  .option('--file <size>', 'file size', '32MiB')
  .option('--piece <size>', 'piece size (supernode --piece-size-bytes)', '256KiB')
  .option('--locallimit <rate>', 'the downloader\'s rate limit, so the download lasts a while', '4M')
  .option('--factors <list>', 'slowFetchFactor of each case (0 = rescue off)', '0,3')
  .option('--min-ms <ms>', 'slowFetchMinMs', '500')
  .option('--freeze-after <pieces>', 'pieces the downloader gets from the holder before the holder is frozen', '8')
  .option('--out <dir>', 'where slow-rescue.csv goes', 'out/bench')
  .parse()
  .opts<{ file: string; piece: string; locallimit: string; factors: string; minMs: string; freezeAfter: string; out: string }>();

interface Row {
  slowFetchFactor: number;
  slowFetchMinMs: number;
  fileBytes: number;
  pieceBytes: number;
  localLimitBytesPerSec: number;
  seconds: number;
  noFaultSeconds: number;
  rescuedFetches: number;
  fromHolderBytes: number;
  fromSupernodeBytes: number;
  digestOk: boolean;
}

const fileBytes = flagValue('bench:rescue', '--file', () => parseBytes(opts.file));
const pieceBytes = flagValue('bench:rescue', '--piece', () => parseBytes(opts.piece));
const limit = flagValue('bench:rescue', '--locallimit', () => parseRate(opts.locallimit));
const freezeAfter = Number(opts.freezeAfter);
const factors = opts.factors.split(',').map(Number);
if (factors.some((f) => !Number.isInteger(f) || f < 0) || !Number.isInteger(freezeAfter) || freezeAfter < 0 || !(limit > 0)) {
  console.error('bench:rescue: --factors takes whole numbers >= 0, --freeze-after a whole number, --locallimit a rate above 0');
  process.exit(2);
}

const content = randomBytes(fileBytes);
const origin = await HttpOrigin.start();
await origin.put('/rescue.bin', content);
const url = origin.urlFor('/rescue.bin');
const rows: Row[] = [];
console.log(`a holder frozen (SIGSTOP) once the downloader has ${freezeAfter} pieces from it; ${formatBytes(fileBytes)} in ${formatBytes(pieceBytes)} pieces at ${formatBytes(limit)}/s`);
try {
  for (const factor of factors) rows.push(await runCase(factor));
} finally {
  await origin.close();
}
console.log('\nslowFetchFactor   downloader s   with no fault s   rescued fetches   from holder   from supernode   bytes ok');
for (const r of rows) {
  console.log(`${String(r.slowFetchFactor).padStart(15)}${r.seconds.toFixed(2).padStart(15)}${r.noFaultSeconds.toFixed(2).padStart(18)}`
    + `${String(r.rescuedFetches).padStart(18)}${formatBytes(r.fromHolderBytes).padStart(14)}${formatBytes(r.fromSupernodeBytes).padStart(17)}${(r.digestOk ? 'yes' : 'NO').padStart(11)}`);
}
mkdirSync(opts.out, { recursive: true });
writeFileSync(join(opts.out, 'slow-rescue.csv'), stringify(rows, { header: true }));
console.log(`wrote ${join(opts.out, 'slow-rescue.csv')}`);

async function runCase(factor: number): Promise<Row> {
  const root = tempDir('bench-rescue');
  const holderHome = join(root, 'holder');
  const home = join(root, 'downloader');
  const sn = await startBin('supernode', ['--home', join(root, 'sn'), '--piece-size-bytes', String(pieceBytes),
    '--slow-fetch-factor', String(factor), '--slow-fetch-min-ms', opts.minMs], { portFlag: '--port' });
  let frozenPid: number | null = null;
  try {
    await timeDfget(url, holderHome, sn.addr, ['--locallimit', '0', '--uploader-idle-exit', '300s']);
    const holderPid = (await readLock(holderHome))?.pid;
    if (!holderPid) throw new Error('the holder\'s uploader is not running');
    const download = timeDfget(url, home, sn.addr, ['--locallimit', opts.locallimit, '--uploader-idle-exit', '5s']);
    const log = (): string => { try { return readFileSync(join(home, 'logs', 'dfclient.log'), 'utf8'); } catch { return ''; } };
    await waitFor(() => (log().match(/piece \d+ received from (?!@supernode)/g)?.length ?? 0) >= freezeAfter,
      120_000, `${freezeAfter} pieces from the holder`);
    process.kill(holderPid, 'SIGSTOP');
    frozenPid = holderPid;
    console.log(`  slowFetchFactor ${factor}: holder frozen; waiting for the downloader${factor === 0 ? ' (each stuck fetch waits out pieceTimeoutMs, 60 s)' : ''}`);
    const run = await download;
    const output = readFileSync(join(home, 'out.bin'));
    return {
      slowFetchFactor: factor, slowFetchMinMs: Number(opts.minMs), fileBytes, pieceBytes, localLimitBytesPerSec: limit,
      seconds: run.seconds, noFaultSeconds: fileBytes / limit,
      rescuedFetches: log().match(/asking for it again elsewhere/g)?.length ?? 0,
      fromHolderBytes: run.result.fromPeersBytes, fromSupernodeBytes: run.result.fromSupernodeBytes,
      digestOk: output.equals(content),
    };
  } finally {
    if (frozenPid !== null) process.kill(frozenPid, 'SIGCONT');
    await sn.stop();
    await stopUploaderOf(holderHome);
    await stopUploaderOf(home);
    removeDir(root);
  }
}
