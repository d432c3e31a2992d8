/**
 * A 200 GiB file through real processes: a sparse file (made with `truncate`, so it takes no disk)
 * served by an HTTP origin, a supernode and dfget on 127.0.0.1. At 15 MiB pieces it has 13,654 of
 * them, more than a list of every index fits in one 64 KiB control frame. The download registers,
 * its first pieces arrive and are verified, and the test stops it; a rerun registers the pieces it
 * holds (as ranges, in the plan they were cut by) and fetches only others.
 *
 * The origin is capped so the supernode's CDN writes a few hundred MB at most before the test ends.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Swarm, waitFor } from '../swarm/harness.ts';

const FILE_BYTES = 200 * 1024 ** 3;
/** The seed's piece size for 200 GiB: min(floor(total / 100 MiB) + 2 MiB, 15 MiB). */
const PIECE_BYTES = 15 * 1024 * 1024;
const PIECES = Math.ceil(FILE_BYTES / PIECE_BYTES);
const ORIGIN_RATE_BYTES_PER_SEC = 40_000_000;

interface Meta { plan: { totalBytes: number; pieceSizeBytes: number; pieceCount: number } | null; digests: (string | null)[] }

/** The plan and the verified pieces recorded in the meta file of the download in `home`. */
function metaOf(home: string): { plan: Meta['plan']; held: number[] } {
  const dataDir = join(home, 'data');
  for (const name of readdirSync(dataDir)) {
    if (!name.endsWith('.meta')) continue;
    const meta = JSON.parse(readFileSync(join(dataDir, name), 'utf8')) as Meta;
    return { plan: meta.plan, held: meta.digests.flatMap((digest, piece) => (digest !== null ? [piece] : [])) };
  }
  return { plan: null, held: [] };
}

/** Pieces the log says dfget started fetching. */
function fetchesIn(log: string): number[] {
  return [...log.matchAll(/fetching piece (\d+) from /g)].map((m) => Number(m[1]));
}

test('a 200 GiB sparse file registers and its first pieces arrive; a rerun registers what it holds and fetches only others', async () => {
  await Swarm.run(async (swarm) => {
    const source = join(swarm.root, 'huge.img');
    const made = spawnSync('truncate', ['-s', String(FILE_BYTES), source], { encoding: 'utf8' });
    assert.is(made.status, 0, `truncate: ${made.stderr}`);
    await swarm.origin.put('/huge.img', { filePath: source });
    swarm.origin.setRate(ORIGIN_RATE_BYTES_PER_SEC);
    const url = swarm.origin.urlFor('/huge.img');
    const supernode = await swarm.startSupernode();
    const home = swarm.newHome('host');

    const first = await swarm.dfget(home, url, [supernode.addr], ['--locallimit', '0']);
    await waitFor(() => swarm.verifiedPiecesIn(home) >= 2, 25_000, 'two verified pieces of the 200 GiB file');
    await first.proc.stop('SIGTERM');
    const before = metaOf(home);
    assert.equal(before.plan, { totalBytes: FILE_BYTES, pieceSizeBytes: PIECE_BYTES, pieceCount: PIECES });
    assert.ok(PIECES > 13_000);
    assert.ok(before.held.length >= 2, `${before.held.length} pieces verified`);
    const firstLog = swarm.logOf(home);

    const rerun = await swarm.dfget(home, url, [supernode.addr], ['--locallimit', '0']);
    await waitFor(() => swarm.verifiedPiecesIn(home) > before.held.length, 25_000, 'a piece more after the rerun');
    await rerun.proc.stop('SIGTERM');
    const rerunLog = swarm.logOf(home).slice(firstLog.length);
    console.log(`  ${PIECES} pieces of 15 MiB; ${before.held.length} verified in the first run, ${metaOf(home).held.length} after the rerun`);
    assert.match(rerunLog, `resuming: ${before.held.length}/${PIECES} pieces verified on disk`);
    assert.match(rerunLog, new RegExp(`registering with supernode \\S+: ${before.held.length} pieces held \\(\\d+ ranges\\)`));
    const refetched = fetchesIn(rerunLog).filter((piece) => before.held.includes(piece));
    assert.equal(refetched, [], 'the supernode knew the pieces held before the rerun and assigned none of them');
    assert.not.ok(existsSync(first.output), 'the unfinished download is not at --output');
  });
});

test.run();
