/**
 * What the supernode is started with is what a real dfget runs: `--peer-down-limit 8
 * --pieces-per-pull 8 --peer-up-limit 6` on the supernode show up in `dfget --json` as the
 * settings it ran with, the dfget really has 8 pieces in flight at once (the seed's default is 4),
 * and its background uploader takes 6 upload slots.
 *
 * The observable: the supernode's output is capped (`--limit-out`), so its uploads of a piece
 * overlap; dfget logs each fetch it starts with the number in flight. A dfget running the
 * defaults would refuse every assignment past 4 (`busy`) and never log more than 4.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DEFAULT_PEER_SETTINGS } from '../../../core/settings.ts';
import { Swarm } from '../swarm/harness.ts';

const PIECE_BYTES = 64 * 1024;
const FILE_BYTES = 48 * PIECE_BYTES;

test('a supernode\'s --peer-down-limit 8 --pieces-per-pull 8 --peer-up-limit 6 reach dfget and its uploader', async () => {
  await Swarm.run(async (swarm) => {
    const url = await swarm.serveRandom('/tuned.bin', FILE_BYTES);
    const supernode = await swarm.startSupernode([
      '--peer-down-limit', '8', '--pieces-per-pull', '8', '--peer-up-limit', '6',
      '--piece-size-bytes', String(PIECE_BYTES), '--limit-out', '1MB',
    ]);
    const home = swarm.newHome('tuned');
    const run = await swarm.dfget(home, url, [supernode.addr], ['--locallimit', '0']);
    const result = await run.result;
    assert.is(await swarm.fileDigest(run.output), swarm.contentDigest);
    assert.equal(result.settings, { origin: 'supernode', ...DEFAULT_PEER_SETTINGS, piecesPerPull: 8, peerDownLimit: 8, peerUpLimit: 6 },
      'dfget --json reports the supernode\'s settings');

    const log = swarm.logOf(home);
    const inFlight = [...log.matchAll(/fetching piece \d+ from \S+ at \S+ \((\d+) in flight\)/g)].map((m) => Number(m[1]));
    assert.is(inFlight.length, FILE_BYTES / PIECE_BYTES, 'one fetch per piece, each logged');
    console.log(`  most pieces in flight at once: ${Math.max(...inFlight)} (fetches started at 8 in flight: ${inFlight.filter((n) => n === 8).length})`);
    assert.is(Math.max(...inFlight), 8, 'dfget ran 8 fetches at once, as the supernode\'s peerDownLimit says');
    assert.match(log, /uploader\[\d+\] settings from a download of this home: 6 upload slots, 8 per requester/);
  });
});

test.run();
