import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { MachineHost, type MachineFault, type TimerPort } from '../../core/runtime.ts';
import type { Machine } from '../../core/drive.ts';

type Input = { kind: 'set'; atMs: number | null } | { kind: 'boom' } | { kind: 'timeout' };

/** A machine with one settable deadline; `stuck` keeps the deadline after its timeout (a bug). */
class Alarm implements Machine<Input, string> {
  deadline: number | null = null;
  stuck = false;
  private out: string[] = [];
  handle(nowMs: number, input: Input): void {
    if (input.kind === 'boom') throw new Error('kaboom');
    if (input.kind === 'set') this.deadline = input.atMs;
    if (input.kind === 'timeout') {
      this.out.push(`rang at ${nowMs}`);
      if (!this.stuck) this.deadline = null;
    }
  }
  poll(): string | undefined { return this.out.shift(); }
  nextDeadlineMs(): number | null { return this.deadline; }
}

function hosted() {
  let nowMs = 0;
  const armed: (number | null)[] = [];
  const effects: string[] = [];
  const faults: MachineFault[] = [];
  const timer: TimerPort = { set: (atMs) => armed.push(atMs) };
  const alarm = new Alarm();
  const host = new MachineHost('alarm', alarm, (e) => effects.push(e), () => nowMs, timer, (f) => faults.push(f));
  return { host, alarm, armed, effects, faults, at: (ms: number) => { nowMs = ms; } };
}

test('arms the timer at the machine\'s deadline after each input and delivers the timeout when due', () => {
  const { host, armed, effects, at } = hosted();
  host.apply({ kind: 'set', atMs: 100 });
  assert.equal(armed, [100]);
  host.apply({ kind: 'set', atMs: 100 });
  assert.equal(armed, [100], 'an unchanged deadline is not armed twice');
  at(99);
  host.fire();
  assert.equal(effects, [], 'a timer that fires early delivers nothing');
  assert.equal(armed, [100, 100], 'and is armed again');
  at(100);
  host.fire();
  assert.equal(effects, ['rang at 100']);
  assert.equal(armed, [100, 100], 'a fired timer needs no clearing when nothing is due next');
});

test('a machine that throws stops the host and reports its name and input', () => {
  const { host, faults, armed } = hosted();
  host.apply({ kind: 'set', atMs: 5 });
  host.apply({ kind: 'boom' });
  assert.equal(faults, [{ machine: 'alarm', kind: 'threw', input: 'boom', message: 'kaboom' }]);
  assert.equal(armed.at(-1), null, 'the timer is cleared');
  host.apply({ kind: 'set', atMs: 9 });
  assert.is(armed.length, 2, 'no input reaches a faulted machine');
});

test('a deadline still due after its timeout is a fault, not a spin', () => {
  const { host, alarm, faults, at } = hosted();
  alarm.stuck = true;
  host.apply({ kind: 'set', atMs: 10 });
  at(10);
  host.fire();
  assert.is(faults.length, 1);
  assert.is(faults[0].kind, 'deadline-still-due');
  assert.match(faults[0].message, /still due at 10 ms/);
});

test('time going back is a thrown fault of the machine (each machine keeps a Clock)', async () => {
  const { Peer } = await import('../../core/peer.ts');
  let nowMs = 10;
  const faults: MachineFault[] = [];
  const host = new MachineHost('peer', new Peer({ backToSource: false }, 'me'), () => {}, () => nowMs, { set: () => {} }, (f) => faults.push(f));
  host.apply({ kind: 'supernode-down', supernode: 'x' });
  nowMs = 5;
  host.apply({ kind: 'supernode-down', supernode: 'x' });
  assert.is(faults.length, 1);
  assert.match(faults[0].message, /time went back/);
  assert.match(faults[0].input, /supernode-down supernode=x/);
});

test.run();
