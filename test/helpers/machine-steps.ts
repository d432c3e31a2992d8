/**
 * Step a core machine by hand in an exact-effect test: `run` applies one input at a time and
 * returns the effects it produced; `tick` delivers the timeout if the deadline has come.
 */
import { applyAndDrain, fireDue, type Machine } from '../../core/drive.ts';

export function machineSteps<I extends { kind: string }, E>(machine: Machine<I, E>) {
  const collect = (step: (sink: (effect: E) => void) => void): E[] => {
    const effects: E[] = [];
    step((effect) => effects.push(effect));
    return effects;
  };
  return {
    run: (nowMs: number, input: I): E[] => collect((sink) => applyAndDrain(machine, nowMs, input, sink)),
    tick: (nowMs: number): E[] => collect((sink) => fireDue(machine, nowMs, sink)),
  };
}
