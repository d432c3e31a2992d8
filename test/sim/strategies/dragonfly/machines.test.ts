import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Machine } from '../../../../core/drive.ts';
import { Peer } from '../../../../core/peer.ts';
import type { PeerInput } from '../../../../core/peer-io.ts';
import { Supernode } from '../../../../core/supernode.ts';
import { Simulation } from '../../../../sim/engine.ts';
import { failureReport } from '../../../../sim/checks.ts';
import { SimMachines } from '../../../../sim/strategies/dragonfly/machines.ts';
import { buildWorld } from '../../../../sim/world.ts';
import { run, smallScenario } from '../../../helpers/sim-run.ts';

const scenario = smallScenario({ seed: 11, fileSize: '24MiB', hosts: { count: 6, up: '1Gbit', down: '1Gbit' } });

/** Run with a core method replaced for the length of one run (the way to make a real machine misbehave). */
function withPatched<T extends object, K extends keyof T>(proto: T, key: K, patched: T[K], body: () => void): void {
  const original = proto[key];
  proto[key] = patched;
  try { body(); } finally { proto[key] = original; }
}

test('a machine that throws stops the run; the checks name it, its input, the seed and the rerun command', () => {
  const clean = run(scenario, 'dragonfly');
  assert.is(clean.fault, null);
  const original = Peer.prototype.handle;
  withPatched(Peer.prototype, 'handle', function (this: Peer, nowMs: number, input: PeerInput) {
    if (this.peerId === 'h3' && input.kind === 'piece-fetched') throw new Error('injected bug');
    original.call(this, nowMs, input);
  }, () => {
    const broken = run(scenario, 'dragonfly');
    assert.ok(broken.fault, 'the fault was not reported');
    assert.is(broken.fault!.machine, 'peer h3');
    assert.is(broken.fault!.kind, 'threw');
    assert.match(broken.fault!.input, /^piece-fetched piece=\d+ source=/);
    assert.ok(broken.events < clean.events, 'the run went on after the fault');
    assert.ok(broken.completedHosts < clean.completedHosts, 'hosts finished after the fault');
    const report = failureReport(broken).join('\n');
    assert.match(report, /CHECK FAILED \(seed 11\): dragonfly: core machine "peer h3" threw on input "piece-fetched piece=/);
    assert.match(report, /injected bug; the run stopped there/);
    assert.match(report, /rerun: npx dfsim run test --seed 11 --strategy dragonfly --hosts 6 --file-size 25165824/);
    const again = run(scenario, 'dragonfly');
    assert.equal(again.fault, broken.fault, 'the same seed faults at the same point');
  });
});

test('a deadline still due right after its timeout is a fault, not a spin', () => {
  withPatched(Supernode.prototype, 'nextDeadlineMs', () => 5, () => {
    const broken = run(scenario, 'dragonfly');
    assert.equal(broken.fault && { machine: broken.fault.machine, kind: broken.fault.kind, input: broken.fault.input, atMs: broken.fault.atMs },
      { machine: 'supernode sn0', kind: 'deadline-still-due', input: 'timeout', atMs: 5 });
    assert.match(failureReport(broken)[0], /"supernode sn0" asked again at once for the deadline it had just been given on input "timeout" at t=5\.000 ms/);
  });
});

/** A machine whose deadline is whatever the last input set; timeouts are counted. */
class Alarm implements Machine<{ kind: 'set'; atMs: number | null } | { kind: 'timeout' }, never> {
  deadlineMs: number | null = null;
  rungAtMs: number[] = [];
  handle(nowMs: number, input: { kind: 'set'; atMs: number | null } | { kind: 'timeout' }): void {
    if (input.kind === 'set') this.deadlineMs = input.atMs;
    else {
      this.rungAtMs.push(nowMs);
      this.deadlineMs = null;
    }
  }
  poll(): undefined { return undefined; }
  nextDeadlineMs(): number | null { return this.deadlineMs; }
}

function bareRun() {
  const sim = new Simulation(buildWorld(smallScenario({ hosts: { count: 1, up: '1Gbit', down: '1Gbit' } })));
  const machines = new SimMachines(sim, 1);
  const alarm = new Alarm();
  const host = machines.host(0, 'alarm', alarm, () => {});
  return { sim, machines, alarm, host };
}

test('timers are superseded lazily: a deadline that keeps moving later queues one event, and fires once, at the end', () => {
  const { sim, alarm, host } = bareRun();
  for (let atMs = 10; atMs <= 1000; atMs += 10) host.apply({ kind: 'set', atMs });
  assert.is(sim.queue.size, 1, 'one timer event for 100 later deadlines');
  sim.run(10_000);
  assert.equal(alarm.rungAtMs, [1000]);
  assert.is(sim.events, 2, 'the early event re-armed once, then the timeout');
});

test('a deadline that moves earlier is armed at once; one already past fires now', () => {
  const { sim, alarm, host } = bareRun();
  host.apply({ kind: 'set', atMs: 500 });
  host.apply({ kind: 'set', atMs: 100 });
  sim.run(200);
  assert.equal(alarm.rungAtMs, [100]);
  const later = sim.on('later', () => host.apply({ kind: 'set', atMs: 150 }));
  sim.at(300, later, 0);
  sim.run(10_000);
  assert.equal(alarm.rungAtMs, [100, 300], 'a deadline set in the past fires at once');
});

test.run();
