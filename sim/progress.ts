/**
 * Progress of a long simulation on stderr, so a person can tell a long run from a stuck one.
 *
 * Nothing is printed for runs shorter than `quietForMs` of wall time. After that, on a terminal
 * one status line is rewritten in place a few times a second; elsewhere (a pipe, a CI log) a
 * full line goes out every `lineEveryMs`, so logs stay readable. Each says the simulated time,
 * hosts done, events so far and events per second of wall time. The engine calls `update`
 * every few thousand events; the printer reads the wall clock and decides.
 */
import { formatDurationMs } from '../core/units.ts';
import type { RunHooks, Simulation } from './engine.ts';

export interface ProgressOptions {
  /** Where lines go (process.stderr). */
  out: { write(text: string): unknown; isTTY?: boolean };
  /** Wall clock in ms (performance.now). */
  clock: () => number;
  quietForMs?: number;
  lineEveryMs?: number;
  ttyEveryMs?: number;
}

export class ProgressPrinter {
  private readonly quietForMs: number;
  private readonly everyMs: number;
  private readonly tty: boolean;
  private startedMs = 0;
  private lastMs = 0;
  private lastEvents = 0;
  private shown = false;

  constructor(private readonly label: string, private readonly opts: ProgressOptions) {
    this.quietForMs = opts.quietForMs ?? 3000;
    this.tty = opts.out.isTTY === true;
    this.everyMs = this.tty ? (opts.ttyEveryMs ?? 250) : (opts.lineEveryMs ?? 5000);
    this.startedMs = this.lastMs = opts.clock();
  }

  /** Hooks for runStrategy; `also` runs beside them. */
  hooks(also: RunHooks = {}): RunHooks {
    return {
      ...(also.afterEvent ? { afterEvent: also.afterEvent } : {}),
      progress: (sim) => {
        also.progress?.(sim);
        this.update(sim);
      },
    };
  }

  update(sim: Simulation): void {
    const now = this.opts.clock();
    if (now - this.startedMs < this.quietForMs || (this.shown && now - this.lastMs < this.everyMs)) return;
    const rate = (sim.events - this.lastEvents) / Math.max(1e-9, (now - this.lastMs) / 1000);
    this.lastMs = now;
    this.lastEvents = sim.events;
    const line = `${this.label}: simulated ${formatDurationMs(sim.nowMs)}, ${sim.hostsDone}/${sim.hostCount} hosts done, `
      + `${compact(sim.events)} events (${compact(rate)}/s), wall ${formatDurationMs(now - this.startedMs)}`;
    this.opts.out.write(this.tty ? `\r${line}\x1b[K` : `${line}\n`);
    this.shown = true;
  }

  /** Clear the status line on a terminal once the run is over. */
  done(): void {
    if (this.shown && this.tty) this.opts.out.write('\r\x1b[K');
  }
}

function compact(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(0)} k`;
  return String(Math.round(n));
}
