/**
 * Bit rot in the supernode's cache: a cached piece whose bytes flip while its size and mtime stay
 * (what the CDN's memory of verified files cannot see). Peers reject it; their corrupt reports make
 * the supernode re-read its copy, find the rot and refetch that one piece from the source, and the
 * download ends — no endless loop of rejected transfers.
 */
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Swarm } from './harness.ts';

const run = promisify(execFile);
const PIECE_BYTES = 256 * 1024;
const FILE_BYTES = 8 * PIECE_BYTES;

async function metric(addr: string, name: string): Promise<number> {
  const text = await (await fetch(`http://${addr}/metrics`)).text();
  return Number(text.split('\n').find((line) => line.startsWith(`${name} `))?.split(' ')[1] ?? NaN);
}

/** Flip bytes in the middle of a file, keeping its size and its modification time to the nanosecond. */
async function rot(path: string): Promise<void> {
  const reference = `${path}.times`;
  await fs.writeFile(reference, '');
  await run('touch', ['-r', path, reference]);
  const handle = await fs.open(path, 'r+');
  try {
    const bytes = Buffer.alloc(16);
    await handle.read(bytes, 0, 16, 1000);
    for (let i = 0; i < bytes.length; i++) bytes[i] ^= 0xa5;
    await handle.write(bytes, 0, 16, 1000);
  } finally {
    await handle.close();
  }
  await run('touch', ['-r', reference, path]);
  await fs.rm(reference);
}

test('a bit-rotted cache piece is found, refetched once from the source, and every download ends', async () => {
  await Swarm.run(async (swarm) => {
    const url = await swarm.serveRandom('/rot.bin', FILE_BYTES);
    const supernode = await swarm.startSupernode(['--piece-size-bytes', String(PIECE_BYTES)]);
    const first = await swarm.dfget(swarm.newHome('first'), url, [supernode.addr], ['--pattern', 'cdn', '--locallimit', '0']);
    const { taskId } = await first.result;
    for (let i = 0; i < 200 && await metric(supernode.addr, 'supernode_cdn_fetches_completed_total') < 1; i++) await new Promise((r) => setTimeout(r, 25));
    const snHome = (await fs.readdir(swarm.root)).find((name) => name.startsWith('sn-'))!;
    await rot(join(swarm.root, snHome, 'cdn', taskId, '3.piece'));
    swarm.origin.resetStats();
    const lostBefore = await metric(supernode.addr, 'supernode_cdn_pieces_lost_total');

    const second = await swarm.dfget(swarm.newHome('second'), url, [supernode.addr], ['--pattern', 'cdn', '--locallimit', '0', '--timeout', '45s']);
    await second.result;
    assert.is(await swarm.fileDigest(second.output), swarm.contentDigest);
    const rejected = (swarm.logOf(second.home).match(/failed verification/g) ?? []).length;
    const refetches = swarm.origin.requests.filter((r) => r.range === `bytes=${3 * PIECE_BYTES}-${4 * PIECE_BYTES - 1}`).length;
    console.log(`  rotten piece: rejected ${rejected} time(s) by the peer, refetched ${refetches} time(s) from the source`);
    assert.ok(rejected >= 1 && rejected <= 3, `the peer rejected the rotten piece ${rejected} times`);
    assert.is(refetches, 1, 'the piece was refetched once');
    assert.is(await metric(supernode.addr, 'supernode_cdn_pieces_lost_total') - lostBefore, 1);
  });
});

test.run();
