/**
 * One swarm, both drivers: the simulator's in-memory dragonfly run and real processes on
 * 127.0.0.1 run the same small swarm with the same supernode settings, and must agree on what
 * the core decided — every host ends with every piece verified (nothing corrupt written), the
 * corrupting uploader ends on the supernode's global blacklist and no one else does, and every
 * peer ran with the settings its supernode sent (the same object in both drivers).
 *
 * The swarm: 6 hosts, a 1.5 MiB file in 24 pieces of 64 KiB. Host 0 arrives first, downloads
 * the file and then serves corrupt bytes for every piece it uploads (the simulator's
 * `corrupt-uploader` fault; the uploader's test-only DFGET_FAULT_CORRUPT_UPLOADS switch in the
 * real run); hosts 1–5 arrive after it holds the file. Timing differs between the drivers; the
 * outcomes checked here must not.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Swarm } from './harness.ts';
import { smallScenario, runDragonflyOpen } from '../../helpers/sim-run.ts';
import type { PeerSettings } from '../../../core/settings.ts';
import { flagOf } from '../../../sim/overrides.ts';

const PIECE_BYTES = 64 * 1024;
const PIECES = 24;
const HOSTS = 6;
const ARRIVAL_GAP_MS = 400;
/** The fleet's settings, given once: as scenario `core:` fields and as the supernode's flags. */
const SETTINGS = { pieceSizeBytes: PIECE_BYTES, peerDownLimit: 3, piecesPerPull: 3, peerUpLimit: 2, globalBlacklistThreshold: 2 };

interface Outcome {
  /** Verified pieces per host, host 0 first. */
  verifiedPieces: number[];
  /** Pieces that failed verification (served by the corrupting host), over all hosts. */
  rejectedPieces: number;
  peersGloballyBlacklisted: number;
  /** Every host's effective settings (with their origin: 'supernode'). */
  settings: (PeerSettings & { origin: string })[];
  /** Why each globally blacklisted peer is there: the supernode's log lines (live only). */
  blacklistLines: string[];
}

function flagsOf(settings: Record<string, number>): string[] {
  return Object.entries(settings).flatMap(([name, value]) => [`--${flagOf(name)}`, String(value)]);
}

function simulated(): Outcome {
  const scenario = smallScenario({
    fileSize: PIECES * PIECE_BYTES,
    hosts: { count: HOSTS, up: '100Mbit', down: '100Mbit' },
    arrival: { pattern: 'staggered', intervalMs: ARRIVAL_GAP_MS },
    limits: { localLimit: 0 },
    core: SETTINGS,
    faults: [{ kind: 'corrupt-uploader', hosts: [0] }],
  });
  const { run, result } = runDragonflyOpen(scenario);
  assert.is(result.fault, null, 'the simulated run had no machine fault');
  assert.is(run.counters.unverifiedWrites, 0, 'the simulator wrote no unverified piece');
  const peers = Array.from({ length: HOSTS }, (_, host) => run.hosts.peer(host)!);
  return {
    verifiedPieces: peers.map((peer) => peer.verifiedPieces),
    rejectedPieces: run.counters.corruptFetches,
    peersGloballyBlacklisted: run.supernodes.stats(0).peersGloballyBlacklisted,
    settings: peers.map((peer) => ({ origin: peer.settings.origin, ...peer.settings.settings })),
    blacklistLines: [],
  };
}

async function live(): Promise<Outcome> {
  let outcome: Outcome | null = null;
  await Swarm.run(async (swarm) => {
    const url = await swarm.serveRandom('/dual.bin', PIECES * PIECE_BYTES);
    const supernode = await swarm.startSupernode(flagsOf(SETTINGS));
    const homes = Array.from({ length: HOSTS }, (_, host) => swarm.newHome(`host${host}`));
    const bad = await swarm.dfget(homes[0], url, [supernode.addr], [], { env: { DFGET_FAULT_CORRUPT_UPLOADS: '1' } });
    const results = [await bad.result];
    const good = [];
    for (let host = 1; host < HOSTS; host++) {
      good.push(await swarm.dfget(homes[host], url, [supernode.addr]));
      await new Promise((resolve) => setTimeout(resolve, ARRIVAL_GAP_MS));
    }
    results.push(...await Promise.all(good.map((run) => run.result)));
    for (const run of [bad, ...good]) assert.is(await swarm.fileDigest(run.output), swarm.contentDigest, `${run.output} has the source's bytes`);
    const metrics = await (await fetch(`http://${supernode.addr}/metrics`)).text();
    outcome = {
      verifiedPieces: results.map((result) => result.resumedPieces + result.fetchedPieces),
      rejectedPieces: homes.reduce((sum, home) => sum + (swarm.logOf(home).match(/failed verification; not written/g) ?? []).length, 0),
      peersGloballyBlacklisted: Number(/^supernode_peers_globally_blacklisted (\d+)/m.exec(metrics)?.[1] ?? NaN),
      settings: results.map((result) => result.settings),
      blacklistLines: supernode.stderr.split('\n').filter((line) => /global blacklist|isolat/.test(line)),
    };
  });
  return outcome!;
}

test('the simulator and real processes end the same small swarm with the same verified pieces, blacklist and settings', async () => {
  const sim = simulated();
  const real = await live();
  console.log(`  sim:  verified ${sim.verifiedPieces.join(',')}; rejected ${sim.rejectedPieces}; globally blacklisted ${sim.peersGloballyBlacklisted}`);
  console.log(`  live: verified ${real.verifiedPieces.join(',')}; rejected ${real.rejectedPieces}; globally blacklisted ${real.peersGloballyBlacklisted}`);
  const complete = Array.from({ length: HOSTS }, () => PIECES);
  assert.equal(sim.verifiedPieces, complete, 'simulated: every host verified every piece');
  assert.equal(real.verifiedPieces, complete, 'live: every host verified every piece');
  assert.ok(sim.rejectedPieces > 0 && real.rejectedPieces > 0, 'both drivers sent someone to the corrupting host, and the receiver rejected its bytes');
  assert.is(sim.peersGloballyBlacklisted, 1, 'simulated: the corrupting host, and only it, is globally blacklisted');
  assert.is(real.peersGloballyBlacklisted, 1, `live: the corrupting host, and only it, is globally blacklisted; the supernode said:\n${real.blacklistLines.join('\n')}`);
  for (const settings of [...sim.settings, ...real.settings]) assert.is(settings.origin, 'supernode', 'every peer took its settings from the supernode');
  for (const [name, value] of Object.entries(SETTINGS)) {
    if (name in sim.settings[0]) assert.is((sim.settings[0] as unknown as Record<string, number>)[name], value, `${name} reached the simulated peers`);
  }
  for (const settings of real.settings) assert.equal(settings, sim.settings[0], 'a real peer ran with the simulated peers\' settings');
  for (const settings of sim.settings) assert.equal(settings, sim.settings[0]);
});

test.run();
