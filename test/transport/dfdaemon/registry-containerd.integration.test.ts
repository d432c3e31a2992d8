/**
 * containerd pulls through dfdaemon: two hosts, each a private containerd (own root, state and
 * socket; `ctr images pull --hosts-dir` with a hosts.toml naming its dfdaemon as the mirror) and a
 * dfdaemon (`--no-fallback`, so every blob it serves came through P2P), one supernode, Debian's
 * docker-registry behind a counting proxy. The image reference names a dead registry address, so
 * a pull can only succeed through the mirror. Two images: three layers under one manifest, and an
 * OCI index over an amd64 and an arm64 manifest, of which only amd64 is pulled.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { containerdUnavailable, startContainerd, type RunningContainerd } from '../../helpers/containerd.ts';
import { startCountingProxy, type CountingProxy } from '../../helpers/counting-proxy.ts';
import { buildIndex, pushIndex } from '../../helpers/oci-index.ts';
import { type BlobInfo, blobPath, pushedTestImage } from '../../helpers/oci-image.ts';
import { ProcessGroup, removeDir, tempDir, type RunningProcess } from '../../../bench/testbed/processes.ts';
import { missingRegistryTools, rawGet, skipMessage, startRegistry, type RunningRegistry } from '../../helpers/registry.ts';

const DEAD_REGISTRY = '127.0.0.1:1';
const MiB = 1024 * 1024;
const missing = await missingRegistryTools();
const unavailable = missing.length > 0 ? skipMessage(missing) : await containerdUnavailable();

interface Rig {
  work: string;
  registry: RunningRegistry;
  proxy: CountingProxy;
  procs: ProcessGroup;
  daemons: RunningProcess[];
  engines: RunningContainerd[];
}

async function startRig(): Promise<Rig> {
  const work = tempDir('containerd');
  const registry = await startRegistry();
  const proxy = await startCountingProxy(registry.url);
  const procs = new ProcessGroup();
  const engines: RunningContainerd[] = [];
  try {
    const supernode = await procs.start('supernode', ['--home', join(work, 'sn')], { portFlag: '--port' });
    const daemons = await Promise.all([0, 1].map((i) => procs.start('dfdaemon', ['--home', join(work, `d${i}`),
      '--registry', proxy.url, '--node', supernode.addr, '--no-fallback'], { portFlag: '--port' })));
    for (const [i, daemon] of daemons.entries()) {
      const engine = await startContainerd(join(work, `containerd${i}`));
      engines.push(engine);
      await engine.mirror(DEAD_REGISTRY, `http://${DEAD_REGISTRY}`, `http://${daemon.addr}`);
    }
    return { work, registry, proxy, procs, daemons, engines };
  } catch (err) {
    procs.printLogs();
    await stopRig({ work, registry, proxy, procs, daemons: [], engines });
    throw err;
  }
}

async function stopRig(rig: Rig): Promise<void> {
  await Promise.all(rig.engines.map((e) => e.stop()));
  await rig.procs.stopAll();
  await rig.proxy.close();
  await rig.registry.stop();
  removeDir(rig.work);
}

async function pull(engine: RunningContainerd, ref: string, platform = 'linux/amd64'): Promise<void> {
  await engine.ctr(['images', 'pull', '--hosts-dir', engine.hostsDir, '--snapshotter', 'native', '--platform', platform, ref]);
}

async function assertHolds(engine: RunningContainerd, layoutDir: string, blobs: BlobInfo[]): Promise<void> {
  for (const blob of blobs) {
    const held = await engine.content(blob.digest);
    assert.ok(held.equals(await readFile(blobPath(layoutDir, blob.digest))), `containerd ${engine.dir} holds ${blob.digest} as pushed`);
  }
}

async function metric(daemon: RunningProcess, name: string): Promise<number> {
  const text = (await rawGet(`http://${daemon.addr}/metrics`)).body.toString();
  return Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1]);
}

/** Sum of the byte counts dfdaemon logged for finished P2P blobs (`..., N from peers, ...`). */
function sumLogged(log: string, what: string): number {
  let total = 0;
  for (const match of log.matchAll(new RegExp(`(\\d+) ${what}`, 'g'))) total += Number(match[1]);
  return total;
}

if (unavailable) {
  console.log(`SKIPPED: containerd through dfdaemon: ${unavailable}`);
  test.skip('containerd pulls a three-layer image and an OCI index through dfdaemon, layers P2P', () => undefined);
} else {
  test('containerd pulls a three-layer image and an OCI index through dfdaemon, layers P2P', async () => {
    const rig = await startRig();
    try {
      const { image, blobs } = await pushedTestImage(join(rig.work, 'image'), rig.registry.hostPort);

      // Host 0 first, then host 1: the registry should send each blob about once for both.
      for (const [i, engine] of rig.engines.entries()) {
        await pull(engine, `${DEAD_REGISTRY}/test/app:v1`);
        assert.match(await engine.ctr(['images', 'ls', '-q']), /127\.0\.0\.1:1\/test\/app:v1/);
        await assertHolds(engine, image.layoutDir, blobs);
        assert.is(await metric(rig.daemons[i], 'dfdaemon_blobs_via_p2p_total'), blobs.length, `host ${i}: every blob via P2P`);
        assert.is(await metric(rig.daemons[i], 'dfdaemon_blobs_via_fallback_total'), 0);
      }
      for (const blob of blobs) {
        const sent = rig.proxy.blobBytes(blob.digest);
        assert.ok(sent <= 1.05 * blob.sizeBytes, `registry sent ${sent} bytes of ${blob.digest} (${blob.sizeBytes}) for two hosts: more than one copy`);
      }
      const imageBytes = blobs.reduce((sum, b) => sum + b.sizeBytes, 0);
      console.log(`containerd, three layers: registry sent ${rig.proxy.totalBlobBytes()} blob bytes for two hosts (image ${imageBytes}); ` +
        `host 1 got ${sumLogged(rig.daemons[1].stderr, 'from peers')} bytes from peers, ${sumLogged(rig.daemons[1].stderr, 'from the supernode')} from the supernode`);

      rig.proxy.reset();
      const index = await buildIndex(join(rig.work, 'index'), [
        { architecture: 'amd64', layerSizesBytes: [3 * MiB, MiB] },
        { architecture: 'arm64', layerSizesBytes: [2 * MiB] },
      ]);
      await pushIndex(index, `${rig.registry.hostPort}/test/multi:v1`);
      const [amd64, arm64] = index.platforms;
      for (const [i, engine] of rig.engines.entries()) {
        await pull(engine, `${DEAD_REGISTRY}/test/multi:v1`);
        await assertHolds(engine, index.layoutDir, [...amd64.layers, amd64.config]);
        assert.is(await metric(rig.daemons[i], 'dfdaemon_blobs_via_p2p_total'), blobs.length + amd64.layers.length + 1, `host ${i}: amd64 blobs via P2P`);
      }
      for (const blob of [...amd64.layers, amd64.config]) {
        assert.ok(rig.proxy.blobBytes(blob.digest) <= 1.05 * blob.sizeBytes, `registry sent more than one copy of ${blob.digest}`);
      }
      for (const blob of [...arm64.layers, arm64.config]) assert.is(rig.proxy.blobBytes(blob.digest), 0, `arm64 blob ${blob.digest} was fetched`);
      // The tag resolved to the index through the mirror; containerd chose the amd64 manifest from it.
      const manifestReads = rig.proxy.requests.filter((r) => r.includes('/v2/test/multi/manifests/'));
      assert.ok(manifestReads.some((r) => r.startsWith(`GET /v2/test/multi/manifests/${amd64.manifest.digest}`)), manifestReads.join(', '));
      assert.not.ok(manifestReads.some((r) => r.includes(arm64.manifest.digest)), `arm64 manifest read: ${manifestReads.join(', ')}`);
      console.log(`containerd, OCI index (amd64 pulled, arm64 not): registry sent ${rig.proxy.totalBlobBytes()} blob bytes for two hosts`);
    } catch (err) {
      rig.procs.printLogs();
      for (const engine of rig.engines) console.error(`---- containerd ${engine.dir} ----\n${engine.logs()}`);
      throw err;
    } finally {
      await stopRig(rig);
    }
  });
}

test.run();
