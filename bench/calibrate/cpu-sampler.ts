/**
 * How busy the machine's CPUs were during a live run, from /proc/stat, and how much of that was
 * the testbed's own processes: a run whose CPUs were saturated measured the CPU, not the links,
 * and its timings say little about the simulator; if the testbed alone stays well below 100 %
 * the saturation came from other work on the machine. Samples every `intervalMs`; 100 % = every
 * core busy. Also the load average before and after.
 */
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';

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
  /**
   * The testbed's own processes alone, in % of all cores: busiest sample and mean. The kernel's
   * packet work (veth, bridge, htb) done outside their system calls is not in it.
   */
  testbedPeakPercent: number;
  testbedMeanPercent: number;
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
  private readonly testbedPercents: number[] = [];
  private last: Ticks | null = readTicks();
  private lastTestbedSeconds: number;
  private lastAtMs = performance.now();
  private readonly timer: NodeJS.Timeout;
  private readonly loadBefore = loadavg()[0];

  /** `testbedSeconds`: CPU seconds the testbed's processes have used so far (sampled with the machine). */
  constructor(private readonly testbedSeconds: () => number, private readonly intervalMs = 500) {
    this.lastTestbedSeconds = testbedSeconds();
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  stop(): CpuSummary {
    clearInterval(this.timer);
    this.sample();
    const sorted = [...this.percents].sort((a, b) => a - b);
    const at = (q: number): number => (sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]);
    const testbed = this.testbedPercents;
    return {
      testbedPeakPercent: testbed.length === 0 ? 0 : Math.max(...testbed),
      testbedMeanPercent: testbed.length === 0 ? 0 : testbed.reduce((a, b) => a + b, 0) / testbed.length,
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
    const atMs = performance.now();
    const seconds = this.testbedSeconds();
    if (atMs > this.lastAtMs) this.testbedPercents.push((100 * (seconds - this.lastTestbedSeconds)) / ((atMs - this.lastAtMs) / 1000) / cpus().length);
    this.lastTestbedSeconds = seconds;
    this.lastAtMs = atMs;
    const now = readTicks();
    if (now && this.last && now.total > this.last.total) {
      this.percents.push((100 * (now.busy - this.last.busy)) / (now.total - this.last.total));
    }
    this.last = now;
  }
}
