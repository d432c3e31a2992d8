/**
 * A core machine that throws is a fault, and a fault is loud in every real process: a dfget whose
 * Peer throws fails with the internal-error exit naming the machine and its input; a supernode
 * whose Supernode throws logs the fault at error level and exits non-zero, and its peers fail
 * over to the next supernode. The throw is injected by preloading a test fixture into the real
 * process (test/transport/fixtures/faulty-machines.ts); the product has no switch for it.
 */
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { REPO_ROOT } from '../../../bench/testbed/processes.ts';
import { Swarm, type Launch } from './harness.ts';

const FILE_BYTES = 3 * 1024 * 1024;

function faulty(fault: string): Launch {
  // The fixture patches the modules in dist/: the process runs them rather than the bundles.
  return { nodeArgs: ['--import', 'tsx', '--import', join(REPO_ROOT, 'test', 'transport', 'fixtures', 'faulty-machines.ts')], env: { SDF_FAULT: fault, SMALL_DRAGONFLY_UNBUNDLED: '1' } };
}

test('a dfget whose Peer throws exits 1 with an internal error naming the machine and the input', async () => {
  await Swarm.run(async (swarm) => {
    const url = await swarm.serveRandom('/f.bin', FILE_BYTES);
    const supernode = await swarm.startSupernode();
    const run = await swarm.dfget(swarm.newHome('host'), url, [supernode.addr], [], faulty('peer-on-assign'));
    const exit = await run.proc.exited;
    assert.is(exit.code, 1, run.proc.describe());
    assert.match(run.proc.stderr, `dfget: internal error: the peer machine threw on input "supernode-message from=${supernode.addr} msg=assign": injected fault`);
    assert.match(run.proc.stderr, 'dfclient.log');
  });
});

test('a supernode whose Supernode throws logs the fault, exits 1, and its peers fail over', async () => {
  await Swarm.run(async (swarm) => {
    const url = await swarm.serveRandom('/g.bin', FILE_BYTES);
    const broken = await swarm.startSupernode([], faulty('supernode-on-pull'));
    const healthy = await swarm.startSupernode();
    const run = await swarm.dfget(swarm.newHome('host'), url, [broken.addr, healthy.addr]);
    const result = await run.result;
    assert.is(await swarm.fileDigest(run.output), swarm.contentDigest, 'the download finished through the second supernode');
    assert.is(result.fromSourceBytes, 0);
    const exit = await broken.exited;
    assert.is(exit.code, 1, 'the faulted supernode exits non-zero');
    assert.match(broken.stderr, / error the supernode machine threw on input "peer-message from=\S+ msg=pull": injected fault: no pull can be answered; the supernode stops/);
  });
});

test.run();
