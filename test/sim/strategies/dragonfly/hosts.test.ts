import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { PeerInput } from '../../../../core/peer-io.ts';
import { peerSettingsOf, supernodeUploaderConfig, uploaderConfigFor } from '../../../../core/settings.ts';
import { runDragonfly, type DragonflyRun } from '../../../../sim/strategies/dragonfly/run.ts';
import { horizonMsOf } from '../../../../sim/strategies/index.ts';
import { buildWorld } from '../../../../sim/world.ts';
import { smallScenario } from '../../../helpers/sim-run.ts';

const TUNED = { peerDownLimit: 8, piecesPerPull: 8, peerUpLimit: 6, pieceTimeoutMs: 20_000 };

function scenario(core: Record<string, number>) {
  return smallScenario({
    seed: 3, fileSize: '96MiB', origin: { up: '10Gbit' },
    hosts: { count: 8, up: { choice: [{ value: '100Mbit' }, { value: '1Gbit' }, { value: '10Gbit' }] }, down: '10Gbit' },
    core: { pieceSizeBytes: '1MiB', ...core },
  });
}

/** Run dragonfly, counting each host's fetches in flight (fetch-piece effects not yet answered by piece-fetched). */
function runCountingFetches(core: Record<string, number>): { run: DragonflyRun; mostInFlight: number } {
  const world = buildWorld(scenario(core));
  const run = runDragonfly(world, {}, 'p2p');
  const inFlight = new Int32Array(world.scenario.hostCount);
  let mostInFlight = 0;
  const fetchPiece = run.dataPlane.fetchPiece.bind(run.dataPlane);
  run.dataPlane.fetchPiece = (host, effect) => {
    mostInFlight = Math.max(mostInFlight, ++inFlight[host]);
    fetchPiece(host, effect);
  };
  const applyPeer = run.hosts.applyPeer.bind(run.hosts);
  run.hosts.applyPeer = (host: number, input: PeerInput) => {
    if (input.kind === 'piece-fetched') inFlight[host]--;
    applyPeer(host, input);
  };
  run.sim.run(horizonMsOf(world));
  return { run, mostInFlight };
}

test('peers run with the settings their supernode sends in task-info, and their uploaders are configured from them', () => {
  const { run, mostInFlight } = runCountingFetches(TUNED);
  const { world } = run;
  const sent = peerSettingsOf(world.supernodeConfig);
  assert.is(run.counters.peersOnDefaultSettings, 0);
  for (let host = 0; host < world.scenario.hostCount; host++) {
    const peer = run.hosts.peer(host)!;
    assert.is(peer.state, 'done');
    assert.equal(peer.settings, { settings: sent, origin: 'supernode' }, `host ${host}`);
    const expected = uploaderConfigFor(sent, world.hostUpBps[host], 0);
    const { uploadLimit, perRequesterLimit, unlistAfterMs, idleExitMs } = run.hosts.uploader(host)!.config;
    assert.equal({ uploadLimit, perRequesterLimit, unlistAfterMs, idleExitMs }, {
      uploadLimit: expected.uploadLimit, perRequesterLimit: 8, unlistAfterMs: expected.unlistAfterMs, idleExitMs: 0,
    }, `host ${host}'s uploader`);
  }
  assert.equal(run.supernodes.uploader(0).config, supernodeUploaderConfig(world.supernodeConfig));
  assert.is(mostInFlight, 8, 'a peer ran the 8 downloads its supernode allows');
});

test('with the seed defaults on the supernode, a peer runs at most 4 downloads', () => {
  assert.is(runCountingFetches({}).mostInFlight, 4);
});

test('no strategy builds a peer\'s or an uploader\'s settings from the defaults or its own config', () => {
  const root = 'sim/strategies';
  const files = (dir: string): string[] => readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
  });
  const offenders = files(root).filter((path) => /configOrThrow\(|DEFAULT_CONFIG|DEFAULT_PEER_SETTINGS/.test(readFileSync(path, 'utf8')));
  assert.equal(offenders, [], 'settings reach peers from their supernode (world.supernodeConfig), never from the defaults');
});

test.run();
