import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadScenario, parseScenario, ScenarioError, shippedScenarios } from '../../sim/scenario.ts';
import { Topology } from '../../sim/topology.ts';
import { buildWorld } from '../../sim/world.ts';

const base = { fileSize: '1GiB', hosts: { count: 10 } };

function errorOf(doc: unknown): string {
  try {
    parseScenario(doc);
  } catch (err) {
    assert.instance(err, ScenarioError);
    return (err as Error).message;
  }
  throw new Error('expected a ScenarioError');
}

test('errors name the bad field and say what was expected', () => {
  assert.is(errorOf({ ...base, hosts: { count: 10, up: 'fast' } }), 'hosts.up: expected a rate like "1Gbit", got "fast"');
  assert.is(errorOf({ ...base, hosts: { count: 0 } }), 'hosts.count: expected a whole number >= 1, got 0');
  assert.match(errorOf({ ...base, hosts: { count: 3, down: { choice: [{ value: '1Gbit', weight: -1 }] } } }), /^hosts\.down\.choice\[0\]\.weight: expected a number >= 0/);
  assert.match(errorOf({ ...base, core: { piecesPerPull: 0 } }), /^core\.piecesPerPull: must be at least 1/);
  assert.match(errorOf({ ...base, core: { piecesPerPul: 4 } }), /^core\.piecesPerPul: unknown setting/);
  assert.match(errorOf({ ...base, arrival: { pattern: 'burst' } }), /^arrival\.pattern: expected one of all-at-once, staggered, poisson/);
  assert.match(errorOf({ ...base, faults: [{ kind: 'host-crash', hosts: [12], atMs: 5 }] }), /^faults\[0\]\.hosts\[0\]: expected a host index below hosts\.count \(10\)/);
  assert.match(errorOf({ ...base, origin: { up: 0 } }), /^origin\.up: expected a rate above 0/);
  assert.match(errorOf({ ...base, hostz: 1 }), /^hostz: unknown field/);
  assert.match(errorOf({ hosts: { count: 1 } }), /^fileSize: expected a size like "1GiB"/);
});

test('goodput scales every link (not the limits) and T_min with it; pieceOverheadMs is a host setting', () => {
  const doc = { ...base, hosts: { count: 4, up: '100Mbit', down: '100Mbit' }, origin: { up: '100Mbit' }, supernodes: { up: '1Gbit' }, limits: { localLimit: '5MB' } };
  const ideal = buildWorld(parseScenario(doc));
  const wire = buildWorld(parseScenario({ ...doc, goodput: 0.5 }));
  assert.is(wire.hostUpBps[0], ideal.hostUpBps[0] / 2);
  assert.is(wire.originUpBps, ideal.originUpBps / 2);
  assert.is(wire.supernodeUpBps, ideal.supernodeUpBps / 2);
  assert.is(wire.hostDownBps[0], 5_000_000, 'the 5 MB/s local limit counts file bytes: unscaled');
  assert.is(wire.lowerBoundMs, ideal.lowerBoundMs, 'the file-byte limit binds both');
  const unlimited = { ...doc, limits: {} };
  assert.is(buildWorld(parseScenario({ ...unlimited, goodput: 0.5 })).lowerBoundMs, buildWorld(parseScenario(unlimited)).lowerBoundMs * 2);
  assert.is(parseScenario(doc).goodput, 1);
  assert.match(errorOf({ ...doc, goodput: 1.5 }), /^goodput: expected a number in \(0, 1\]/);
  assert.match(errorOf({ ...doc, goodput: 0 }), /^goodput: expected a number in \(0, 1\]/);
  assert.is(parseScenario({ ...doc, hosts: { count: 4, pieceOverheadMs: 80 } }).pieceOverheadMs, 80);
  assert.is(parseScenario(doc).pieceOverheadMs, 0);
  assert.match(errorOf({ ...doc, hosts: { count: 4, pieceOverheadMs: -1 } }), /^hosts\.pieceOverheadMs: /);
});

test('hosts declare their IDC and rack unless topology.declared is false', () => {
  const declared = parseScenario({ ...base, topology: { idcs: 2, racksPerIdc: 3 } });
  assert.is(declared.topology.declared, true);
  assert.is(parseScenario({ ...base, topology: { declared: false } }).topology.declared, false);
  assert.match(errorOf({ ...base, topology: { declared: 'yes' } }), /^topology\.declared: expected true or false, got "yes"/);
  const topology = new Topology(declared.topology);
  for (let h = 0; h < 7; h++) topology.placeHost(h);
  // Hosts are dealt round-robin over the 6 racks: host 4 sits in rack 4, the second rack of IDC 1.
  assert.equal(topology.placementOf(4), { idc: 'idc1', location: 'idc1|rack4' });
  assert.equal(new Topology({ ...declared.topology, declared: false }).placementOf(0), {});
});

test('every shipped scenario loads and builds a world with a positive lower bound', () => {
  for (const name of shippedScenarios()) {
    const world = buildWorld(loadScenario(name));
    assert.ok(world.lowerBoundMs > 0, name);
  }
  assert.throws(() => loadScenario('no-such-scenario'), /no scenario "no-such-scenario"/);
});

test('the default scenario is the documented one: 200 hosts, 1 GiB, 1 Gbit/s, no per-task limit', () => {
  const s = loadScenario('default');
  assert.is(s.hostCount, 200);
  assert.is(s.fileSizeBytes, 1024 ** 3);
  assert.equal(s.hostUp, { kind: 'fixed', valueBps: 125_000_000 });
  assert.is(s.originUpBps, 125_000_000);
  assert.is(s.supernodeUpBps, 1_250_000_000);
  assert.is(s.localLimitBps, 0);
  assert.equal(s.core, {});
});

test('lower bound: the origin, a host\'s own link, or the aggregate upload capacity', () => {
  const world = (doc: object) => buildWorld(parseScenario({ ...base, fileSize: '1000MB', ...doc }));
  // 10 hosts, 1 GB/s hosts, origin 10 MB/s: the origin's single copy dominates (100 s).
  assert.ok(Math.abs(world({ hosts: { count: 10, up: '1GB', down: '1GB' }, origin: { up: '10MB' } }).lowerBoundMs - 100_000) < 1e-6);
  // Hosts download at 100 MB/s: 10 s each.
  assert.ok(Math.abs(world({ hosts: { count: 2, up: '1GB', down: '100MB' }, origin: { up: '1GB' } }).lowerBoundMs - 10_000) < 1e-6);
  // 100 hosts upload 1 MB/s each; origin and supernode 50 MB/s each: 100 GB / 250 MB/s = 400 s.
  assert.ok(Math.abs(world({ hosts: { count: 100, up: '1MB', down: '1GB' }, origin: { up: '50MB' }, supernodes: { up: '100MB' } }).lowerBoundMs - 400_000) < 1e-6);
  // A per-task limit caps the host's download: 1000 MB at 10 MB/s.
  assert.ok(Math.abs(world({ hosts: { count: 2, up: '1GB', down: '1GB' }, origin: { up: '1GB' }, limits: { localLimit: '10MB' } }).lowerBoundMs - 100_000) < 1e-6);
});

test.run();
