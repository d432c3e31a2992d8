/**
 * Reports of a `dfsim run`: the comparison table for people, one JSON object for machines, and
 * with `--out DIR` the files: summary.json, hosts.csv, timeseries.csv and SVG charts
 * (completion CDF per strategy, origin egress per strategy).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { formatBytes } from '../core/units.ts';
import type { StrategyResult } from './result.ts';

export interface RunReport {
  scenario: string;
  seed: string;
  hosts: number;
  fileSizeBytes: number;
  lowerBoundMs: number;
  strategies: StrategyResult[];
}

/** The report without per-host rows and time series (what --json prints and summary.json holds). */
export function summaryOf(report: RunReport): object {
  return {
    ...report,
    strategies: report.strategies.map(({ hostResults: _hosts, timeseries: _series, ...rest }) => rest),
  };
}

const seconds = (ms: number) => (ms / 1000).toFixed(2);

export function formatTable(report: RunReport): string {
  const header = ['strategy', 'done', 'p50 s', 'p95 s', 'max s', 'T_min s', 'efficiency', 'origin egress', 'x file', 'supernode egress', 'events', 'wall s'];
  const rows = report.strategies.map((r) => [
    r.strategy,
    `${r.completedHosts}/${r.hosts - r.crashedHosts}`,
    seconds(r.completionMs.p50), seconds(r.completionMs.p95), seconds(r.completionMs.max), seconds(r.lowerBoundMs),
    r.efficiency.toFixed(3), formatBytes(r.originEgressBytes), (r.originEgressBytes / r.fileSizeBytes).toFixed(2),
    formatBytes(r.supernodeEgressBytes), String(r.events), seconds(r.wallMs),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const title = `scenario ${report.scenario}, seed ${report.seed}: ${report.hosts} hosts x ${formatBytes(report.fileSizeBytes)}, ` +
    `lower bound T_min = ${seconds(report.lowerBoundMs)} s`;
  return [title, line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

export async function writeOutputs(dir: string, report: RunReport): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  const write = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    written.push(join(dir, name));
  };
  write('summary.json', `${JSON.stringify(summaryOf(report), null, 2)}\n`);
  write('hosts.csv', stringify(report.strategies.flatMap((r) => r.hostResults.map((h) => ({
    strategy: r.strategy, host: h.host, status: h.status, arrivalMs: h.arrivalMs.toFixed(3),
    completionMs: h.completionMs === null ? '' : h.completionMs.toFixed(3),
    downloadMs: h.completionMs === null ? '' : (h.completionMs - h.arrivalMs).toFixed(3),
    upBps: h.upBps, downBps: h.downBps, sentBytes: h.sentBytes, receivedBytes: h.receivedBytes, reason: h.reason ?? '',
  }))), { header: true }));
  write('timeseries.csv', stringify(report.strategies.flatMap((r) => r.timeseries.map((p) => ({
    strategy: r.strategy, timeMs: p.timeMs.toFixed(3), hostsDone: p.hostsDone,
    originEgressBytes: p.originEgressBytes, supernodeEgressBytes: p.supernodeEgressBytes,
  }))), { header: true }));
  // d3-node pulls in jsdom (about a second to load): only when charts are wanted.
  const { lineChart, barChart } = await import('./charts.ts');
  write('completion-cdf.svg', lineChart(
    `Completion CDF: ${report.scenario}, ${report.hosts} hosts (seed ${report.seed})`, 'completion time (s, log scale)', 'hosts done (%)',
    report.strategies.map((r) => ({
      name: r.strategy,
      points: [{ x: r.timeseries[0]?.timeMs / 1000 || 0, y: 0 },
        ...r.timeseries.map((p) => ({ x: p.timeMs / 1000, y: (100 * p.hostsDone) / r.hosts }))],
    })), true));
  write('origin-egress.svg', barChart(
    `Origin egress per strategy, in copies of the file (${report.scenario})`, 'origin egress / file size',
    report.strategies.map((r) => ({ name: r.strategy, value: r.originEgressBytes / r.fileSizeBytes }))));
  return written;
}
