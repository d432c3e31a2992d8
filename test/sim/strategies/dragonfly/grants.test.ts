/**
 * Grants in the simulator: supernodes sign what the core issues, hosts' uploaders trust the key
 * their peer was given, and a grant nobody signed, signed by another key, or altered, verifies to
 * nothing (the core Uploader then refuses it, as in production).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { signGrant, supernodeKeyOf, verifyGrant } from '../../../../sim/strategies/dragonfly/grants.ts';
import { runDragonflyOpen, smallScenario } from '../../../helpers/sim-run.ts';

test('a signed grant verifies for a trusting uploader only; forged, foreign or altered ones do not', () => {
  const key = supernodeKeyOf(0);
  const grant = signGrant(key, { taskId: 't', peer: 'h1', expiresAtMs: 500, signature: '' });
  const trusted = new Set([key]);
  assert.equal(verifyGrant(trusted, grant), { taskId: 't', expiresAtMs: 500 });
  assert.is(verifyGrant(new Set(), grant), null, 'an uploader that trusts no key');
  assert.is(verifyGrant(trusted, undefined), null, 'no grant');
  assert.is(verifyGrant(trusted, { ...grant, signature: 'forged' }), null, 'a forged signature');
  assert.is(verifyGrant(trusted, { ...grant, expiresAtMs: 10_000 }), null, 'a longer life than signed');
  assert.is(verifyGrant(trusted, { ...grant, taskId: 'other' }), null, 'another task');
  assert.is(verifyGrant(trusted, signGrant(supernodeKeyOf(1), grant)), null, 'another supernode\'s key');
});

test('in a run, every host is admitted (its uploader trusts its supernode\'s key) and no fetch is refused as unauthorized', () => {
  const { run, result } = runDragonflyOpen(smallScenario({ seed: 2, hosts: { count: 8, up: '1Gbit', down: '1Gbit' } }));
  assert.is(result.completedHosts, 8);
  for (let host = 0; host < 8; host++) assert.ok(run.hosts.trustedKeys(host).has(supernodeKeyOf(0)), `host ${host}`);
  assert.is(run.counters.refusedFetches, 0);
});

test.run();
