/**
 * Where a piece's time goes between the supernode's assignment and the peer's result, read from
 * the logs of a real run: the supernode's (`--log-level debug` logs every assign it sends and
 * every pull/report result it receives) and each dfget home's `logs/dfclient.log` (dfget logs
 * "fetching piece N" when it acts on the assignment and "piece N received" once the bytes are in
 * and hashed). Per piece and peer:
 *
 *   assign -> fetch      the supernode sent the assignment .. dfget starts the request
 *   fetch -> received    request .. all bytes received and hashed (the transfer)
 *   received -> result   .. the supernode has the result (write, tell the uploader, next pull)
 *
 * Both logs carry wall-clock timestamps of one machine (run everything on one host). Pieces a
 * peer received before its first result reached the supernode are shown apart: those results
 * wait for the peer's background uploader to boot (the core bounds the wait, `uploaderWaitMs`).
 *
 *   node --import tsx bench/piece-latency.ts SUPERNODE_LOG HOME [HOME...]
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

type Key = string;
const keyOf = (pid: string, piece: number): Key => `${pid}/${piece}`;
const msOf = (stamp: string): number => Date.parse(stamp);

const [supernodeLog, ...homes] = process.argv.slice(2);
if (!supernodeLog || homes.length === 0) {
  console.error('usage: node --import tsx bench/piece-latency.ts SUPERNODE_LOG HOME [HOME...]');
  process.exit(2);
}

const assigned = new Map<Key, number>();
const resulted = new Map<Key, number>();
for (const line of readFileSync(supernodeLog, 'utf8').split('\n')) {
  const sent = /^(\S+) debug to vm-(\d+)-\S+: assign (.*)$/.exec(line);
  if (sent) {
    for (const item of sent[3].split(' ')) {
      const key = keyOf(sent[2], Number(item.split('<-')[0]));
      if (!assigned.has(key)) assigned.set(key, msOf(sent[1]));
    }
  }
  const got = /^(\S+) debug from vm-(\d+)-\S+: (?:pull|report) (.*)$/.exec(line);
  if (got) {
    for (const item of got[3].split(' ').filter((r) => r.endsWith('+'))) {
      const key = keyOf(got[2], Number(item.slice(0, -1)));
      if (!resulted.has(key)) resulted.set(key, msOf(got[1]));
    }
  }
}

const fetched = new Map<Key, number>();
const received = new Map<Key, number>();
for (const home of homes) {
  for (const line of readFileSync(join(home, 'logs', 'dfclient.log'), 'utf8').split('\n')) {
    const start = /^(\S+) info dfget\[(\d+)\] fetching piece (\d+) /.exec(line);
    if (start) fetched.set(keyOf(start[2], Number(start[3])), msOf(start[1]));
    const done = /^(\S+) info dfget\[(\d+)\] piece (\d+) received /.exec(line);
    if (done) received.set(keyOf(done[2], Number(done[3])), msOf(done[1]));
  }
}

const firstResultMs = new Map<string, number>();
for (const [key, ms] of resulted) {
  const pid = key.split('/')[0];
  firstResultMs.set(pid, Math.min(firstResultMs.get(pid) ?? Infinity, ms));
}

interface Spans { assignToFetch: number[]; fetchToReceived: number[]; receivedToResult: number[] }
const booting: Spans = { assignToFetch: [], fetchToReceived: [], receivedToResult: [] };
const steady: Spans = { assignToFetch: [], fetchToReceived: [], receivedToResult: [] };
for (const [key, receivedMs] of received) {
  const assignMs = assigned.get(key);
  const fetchMs = fetched.get(key);
  const resultMs = resulted.get(key);
  if (assignMs === undefined || fetchMs === undefined || resultMs === undefined) continue;
  const spans = receivedMs > firstResultMs.get(key.split('/')[0])! ? steady : booting;
  spans.assignToFetch.push(fetchMs - assignMs);
  spans.fetchToReceived.push(receivedMs - fetchMs);
  spans.receivedToResult.push(resultMs - receivedMs);
}

function summary(values: number[]): string {
  if (values.length === 0) return '-';
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  const mean = sorted.reduce((sum, v) => sum + v, 0) / sorted.length;
  return `p50 ${at(0.5).toFixed(0).padStart(5)}  p90 ${at(0.9).toFixed(0).padStart(5)}  mean ${mean.toFixed(1).padStart(7)}`;
}

for (const [title, spans] of [['after each peer\'s first result (uploader up)', steady], ['before it (uploader booting)', booting]] as const) {
  console.log(`${title}: ${spans.receivedToResult.length} pieces (ms)`);
  console.log(`  assign -> fetch       ${summary(spans.assignToFetch)}`);
  console.log(`  fetch -> received     ${summary(spans.fetchToReceived)}`);
  console.log(`  received -> result    ${summary(spans.receivedToResult)}`);
}
