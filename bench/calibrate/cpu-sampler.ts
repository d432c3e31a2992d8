/**
 * How busy the machine's CPUs were during a live run, from /proc/stat: a run whose CPUs were
 * saturated measured the CPU, not the links, and its timings say nothing about the simulator.
 * Samples every `intervalMs`; 100 % = every core busy. Also the load average before and after.
 */
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';

export interface CpuSummary {
  cores: number;
  /** Busiest sample, in % of all cores. */
  peakPercent: number;
  /** 95th percentile of the samples. */
  p95Percent: number;
  meanPercent: number;
  samples: number;
  intervalMs: number;
  /** 1-minute load average when the run started and when it ended. */
  loadBefore: number;
  loadAfter: number;
}

interface Ticks { busy: number; total: number }

function readTicks(): Ticks | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
    const fields = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal ...: idle and iowait are not busy.
    const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busy: total - fields[3] - (fields[4] ?? 0), total };
  } catch {
    return null;
  }
}

export class CpuSampler {
  private readonly percents: number[] = [];
  private last: Ticks | null = readTicks();
  private readonly timer: NodeJS.Timeout;
  private readonly loadBefore = loadavg()[0];

  constructor(private readonly intervalMs = 500) {
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  stop(): CpuSummary {
    clearInterval(this.timer);
    this.sample();
    const sorted = [...this.percents].sort((a, b) => a - b);
    const at = (q: number): number => (sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]);
    return {
      cores: cpus().length,
      peakPercent: sorted.length === 0 ? 0 : sorted[sorted.length - 1],
      p95Percent: at(0.95),
      meanPercent: sorted.length === 0 ? 0 : sorted.reduce((a, b) => a + b, 0) / sorted.length,
      samples: sorted.length,
      intervalMs: this.intervalMs,
      loadBefore: this.loadBefore,
      loadAfter: loadavg()[0],
    };
  }

  private sample(): void {
    const now = readTicks();
    if (now && this.last && now.total > this.last.total) {
      this.percents.push((100 * (now.busy - this.last.busy)) / (now.total - this.last.total));
    }
    this.last = now;
  }
}
