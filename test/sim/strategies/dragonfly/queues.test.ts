import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Simulation } from '../../../../sim/engine.ts';
import { buildWorld } from '../../../../sim/world.ts';
import { ScenarioError } from '../../../../sim/scenario-error.ts';
import { run, smallScenario } from '../../../helpers/sim-run.ts';

const KiB = 1024;
// 40 Mbit/s hosts: 5 MB/s; a 100 KiB limit (20 ms of 5 MB/s) is above limitMinBytes.
const doc = { fileSize: '16MiB', hosts: { count: 4, up: '40Mbit', down: '40Mbit' }, origin: { up: '40Mbit' }, core: { pieceSizeBytes: '1MiB' } };
const queues = { perFlowBytes: '32KiB', limitMs: 20, limitMinBytes: '16KiB' };

test('a small message waits behind what the flows on the sender\'s uplink and the receiver\'s downlink keep queued, up to the limit', () => {
  const sim = new Simulation(buildWorld(smallScenario({ ...doc, queues })));
  const [a, b, c] = [sim.hostNode(0), sim.hostNode(1), sim.hostNode(2)];
  const latencyMs = sim.latencyMs(a, b);
  assert.is(sim.messageDelayMs(a, b), latencyMs, 'idle links: the latency alone');
  const rate = sim.network.nodeUpBps(a);
  sim.network.startFlow(0, a, c, 10 * 1024 * KiB, 0, 0);
  assert.ok(Math.abs(sim.messageDelayMs(a, b) - (latencyMs + 1000 * 32 * KiB / rate)) < 1e-9, 'one flow on a\'s uplink: 32 KiB ahead');
  assert.is(sim.messageDelayMs(b, a), sim.latencyMs(b, a), 'a\'s downlink and b\'s uplink carry nothing');
  for (let i = 0; i < 5; i++) sim.network.startFlow(0, a, c, 10 * 1024 * KiB, 0, 0);
  const limitBytes = 20 * rate / 1000;
  assert.ok(Math.abs(sim.messageDelayMs(a, b) - (latencyMs + 1000 * limitBytes / rate)) < 1e-9, 'six flows: the queue is full at 20 ms');
  // c's downlink now carries a's six flows: a message to c waits there too.
  const down = sim.network.nodeDownBps(c);
  assert.ok(Math.abs(sim.messageDelayMs(b, c) - (sim.latencyMs(b, c) + 1000 * Math.min(Math.max(16 * KiB, 20 * down / 1000), 6 * 32 * KiB) / down)) < 1e-9);
  const none = new Simulation(buildWorld(smallScenario(doc)));
  none.network.startFlow(0, none.hostNode(0), none.hostNode(2), 1024 * KiB, 0, 0);
  assert.is(none.messageDelayMs(none.hostNode(0), none.hostNode(1)), none.latencyMs(none.hostNode(0), none.hostNode(1)), 'no queues: the latency alone');
});

test('queues slow a swarm down without changing what it moves, deterministically', () => {
  const ideal = run(smallScenario(doc), 'dragonfly');
  const queued = run(smallScenario({ ...doc, queues }), 'dragonfly');
  assert.is(queued.completedHosts, 4);
  assert.is(queued.originEgressBytes, ideal.originEgressBytes);
  assert.ok(queued.completionMs.max > ideal.completionMs.max, `${queued.completionMs.max} vs ${ideal.completionMs.max}`);
  assert.equal(run(smallScenario({ ...doc, queues }), 'dragonfly').completionMs, queued.completionMs);
});

test('queues: sizes as text or bytes; unknown fields and negative values are refused', () => {
  assert.equal(smallScenario({ queues }).queues, { perFlowBytes: 32 * KiB, limitMs: 20, limitMinBytes: 16 * KiB });
  assert.equal(smallScenario({}).queues, { perFlowBytes: 0, limitMs: 0, limitMinBytes: 0 });
  assert.throws(() => smallScenario({ queues: { perFlowBytes: 1, depth: 3 } }), (err: unknown) => err instanceof ScenarioError && /queues\.depth/.test((err as Error).message));
  assert.throws(() => smallScenario({ queues: { limitMs: -1 } }), /queues\.limitMs/);
});

test.run();
