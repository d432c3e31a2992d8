/**
 * The testbed's origin as its own process, so that in the netns shape it runs inside the origin's
 * namespace: an HttpOrigin serving one file from disk at `--path`, with an optional egress cap.
 *
 *   node --import tsx bench/calibrate/origin-process.ts --host 10.213.0.2 --file F [--rate 100Mbit]
 *
 * It prints one JSON line `{"url": ...}` when it serves. Each line "stats" on stdin is answered by
 * one JSON line of its counters (body bytes sent, requests, and the bytes sent over time); when
 * stdin closes it stops, so an origin never outlives the testbed that started it.
 */
import { createInterface } from 'node:readline';
import { Command } from 'commander';
import { parseRate } from '../../core/units.ts';
import { HttpOrigin } from '../testbed/http-origin.ts';

export interface OriginStatsLine {
  bytesSent: number;
  requests: number;
  rangeRequests: number;
  /** [epoch ms, body bytes sent so far], every SAMPLE_MS while the count grows: the CDN fetch's progress. */
  series: [number, number][];
}

const SAMPLE_MS = 50;
const MAX_SAMPLES = 20_000;

const opts = new Command('calibrate-origin')
  .requiredOption('--file <path>', 'file to serve')
  .option('--host <addr>', 'address to listen on', '127.0.0.1')
  .option('--port <n>', 'port (0 = any)', '0')
  .option('--path <path>', 'URL path of the file', '/calibration.bin')
  .option('--rate <rate>', 'egress cap for all responses, e.g. 100Mbit (0 = none)', '0')
  .parse()
  .opts<{ file: string; host: string; port: string; path: string; rate: string }>();

const origin = await HttpOrigin.start({ host: opts.host, port: Number(opts.port), rateBytesPerSec: parseRate(opts.rate) });
await origin.put(opts.path, { filePath: opts.file });
process.stdout.write(`${JSON.stringify({ url: origin.urlFor(opts.path) })}\n`);

const series: [number, number][] = [];
const sampler = setInterval(() => {
  const sent = origin.stats.bytesSent;
  if (series.length < MAX_SAMPLES && sent !== (series[series.length - 1]?.[1] ?? 0)) series.push([Date.now(), sent]);
}, SAMPLE_MS);
sampler.unref();

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  if (line.trim() !== 'stats') return;
  const stats = origin.stats;
  const answer: OriginStatsLine = { bytesSent: stats.bytesSent, requests: stats.requests, rangeRequests: stats.rangeRequests, series };
  process.stdout.write(`${JSON.stringify(answer)}\n`);
});
lines.on('close', () => { void origin.close().then(() => process.exit(0)); });
process.on('SIGTERM', () => { void origin.close().then(() => process.exit(0)); });
