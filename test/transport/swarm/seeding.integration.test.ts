/**
 * A finished download keeps seeding after its dfget exits: host A downloads a file and exits, its
 * background uploader registers the task with the supernode under its own id, and host B, started
 * afterwards, gets pieces from A's uploader. The origin still sends about one copy.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Swarm } from './harness.ts';

const FILE_BYTES = 32 * 1024 * 1024;

async function metric(addr: string, name: string): Promise<number> {
  const text = await (await fetch(`http://${addr}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  if (!line) throw new Error(`supernode /metrics has no ${name}`);
  return Number(line.slice(name.length + 1));
}

async function waitForMetric(addr: string, name: string, want: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = await metric(addr, name);
  while (last !== want) {
    if (Date.now() > deadline) throw new Error(`${name} stayed ${last}, expected ${want} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
    last = await metric(addr, name);
  }
}

test('a host that finished and exited still serves pieces to a later host', async () => {
  await Swarm.run(async (swarm) => {
    const url = await swarm.serveRandom('/seeded.bin', FILE_BYTES);
    const supernode = await swarm.startSupernode();
    const first = await swarm.dfget(swarm.newHome('hostA'), url, [supernode.addr], ['--locallimit', '0']);
    await first.result;
    // A's dfget is gone; what stays registered is its uploader's seeder.
    await waitForMetric(supernode.addr, 'supernode_control_connections', 1, 10_000);
    await waitForMetric(supernode.addr, 'supernode_peers', 1, 10_000);
    const assignedFromPeersBefore = await metric(supernode.addr, 'supernode_pieces_assigned_from_peers_total');

    const second = await swarm.dfget(swarm.newHome('hostB'), url, [supernode.addr], ['--locallimit', '0']);
    const result = await second.result;
    assert.is(await swarm.fileDigest(second.output), swarm.contentDigest, 'B has the source\'s bytes');
    const originBytes = swarm.origin.bytesSentFor('/seeded.bin');
    const assignedFromPeers = await metric(supernode.addr, 'supernode_pieces_assigned_from_peers_total') - assignedFromPeersBefore;
    const share = result.fromPeersBytes / result.totalBytes;
    console.log(`  origin sent ${(originBytes / FILE_BYTES).toFixed(3)} copies; B got ${(100 * share).toFixed(1)}% of its bytes `
      + `from A's uploader (${assignedFromPeers} piece assignments from peers), the rest from the supernode`);
    assert.ok(originBytes <= 1.05 * FILE_BYTES, `origin sent ${originBytes} bytes, more than 1.05 copies`);
    assert.ok(result.fromPeersBytes > 0 && assignedFromPeers > 0, 'B got no piece from A\'s uploader');
  });
});

test.run();
