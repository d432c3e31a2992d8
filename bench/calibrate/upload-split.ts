/**
 * Where a live peer fetch's time goes, from both ends' logs. A requester's dfget logs when it
 * sent a request ("fetching piece N from … at <address>:<port>") and when the piece was in
 * ("piece N received"); the source's uploader, started with `--log-level debug` (the warm start's
 * uploaders are), logs each served piece with how long it spent reading it, waiting for its TX
 * bucket's tokens and handing the frame to the kernel (transport/uploader/piece-server.ts). Joined
 * by source address and piece (the uploader line nearest after the request), a fetch splits into:
 *
 *   before serving   request sent -> the uploader starts serving (the request's trip and decision)
 *   serving          read + tokens + hand-off to the kernel
 *   after hand-off   the kernel has the frame -> the requester has verified the piece (the bytes
 *                    crossing the links, then the requester's own processing)
 *
 * and each uploader's share of the run with some piece's bytes in flight (from a hand-off to its
 * requester's "received"). Log times are whole milliseconds; the uploader's line is written at the
 * hand-off, so the serving start is that time minus its three figures.
 *
 * Fetches from the supernode are not split (its CDN piece server logs no such lines), nor any when
 * the uploaders ran without debug lines (the cold start's, which dfget spawns).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UPLOAD_TIMING_PREFIX } from '../../transport/uploader/piece-server.ts';
import type { TestbedPlan } from './plan.ts';
import { runFetches, unionMs, type DfgetFetch } from './timeline.ts';

export interface UploadSplit {
  /** Peer fetches joined to their uploader's line. */
  fetches: number;
  /** Means over those fetches, ms. */
  beforeServingMs: number;
  readMs: number;
  tokensMs: number;
  toKernelMs: number;
  afterHandOffMs: number;
  totalMs: number;
  /** Mean over the uploaders that served, of the share of the run with a served piece's bytes in flight, %. */
  bytesInFlightPercent: number;
}

const SERVING_LINE = /^(\S+) info uploader\[\d+\] uploader pid \d+ serving (\S+);/;
const SERVED_LINE = new RegExp(`^(\\S+) debug uploader\\[\\d+\\] ${UPLOAD_TIMING_PREFIX}(\\d+) of \\S+ to \\S+: read ([\\d.]+) ms, tokens ([\\d.]+) ms, to the kernel ([\\d.]+) ms`);

interface Served { piece: number; handOffMs: number; readMs: number; tokensMs: number; toKernelMs: number; used: boolean }

/** The uploader of each host's log: its address (`host:port`) and the pieces it served. */
function uploaderLines(logsDir: string, name: string): { addr: string; served: Served[] } | null {
  let text = '';
  try { text = readFileSync(join(logsDir, `${name}-dfclient.log`), 'utf8'); } catch { return null; }
  let addr: string | null = null;
  const served: Served[] = [];
  for (const line of text.split('\n')) {
    const serving: RegExpExecArray | null = addr === null ? SERVING_LINE.exec(line) : null;
    if (serving) addr = serving[2];
    const m = SERVED_LINE.exec(line);
    if (m) served.push({ piece: Number(m[2]), handOffMs: Date.parse(m[1]), readMs: Number(m[3]), tokensMs: Number(m[4]), toKernelMs: Number(m[5]), used: false });
  }
  return addr === null ? null : { addr, served };
}

export function liveUploadSplit(plan: TestbedPlan, logsDir: string): UploadSplit | null {
  const byAddr = new Map<string, Served[]>();
  for (const host of plan.hosts) {
    const uploader = uploaderLines(logsDir, host.name);
    if (uploader && uploader.served.length > 0) byAddr.set(uploader.addr, uploader.served);
  }
  if (byAddr.size === 0) return null;
  const sums = { beforeServingMs: 0, readMs: 0, tokensMs: 0, toKernelMs: 0, afterHandOffMs: 0, totalMs: 0 };
  const inFlight = new Map<string, Array<[number, number]>>();
  let fetches = 0;
  const run = runFetches(plan, logsDir);
  for (const fetch of run.fetches) {
    const addr = `${fetch.address}:${fetch.port}`;
    const served = byAddr.get(addr);
    const match = served ? servedLineOf(served, fetch) : null;
    if (!match) continue;
    const servingMs = match.readMs + match.tokensMs + match.toKernelMs;
    sums.beforeServingMs += match.handOffMs - servingMs - fetch.startMs;
    sums.readMs += match.readMs;
    sums.tokensMs += match.tokensMs;
    sums.toKernelMs += match.toKernelMs;
    sums.afterHandOffMs += fetch.endMs - match.handOffMs;
    sums.totalMs += fetch.endMs - fetch.startMs;
    fetches++;
    const intervals = inFlight.get(addr) ?? [];
    intervals.push([match.handOffMs - match.toKernelMs, fetch.endMs]);
    inFlight.set(addr, intervals);
  }
  const runMs = run.runMs;
  if (fetches === 0 || !(runMs > 0)) return null;
  const shares = [...inFlight.values()].map((intervals) => unionMs(intervals) / runMs);
  const mean = (sum: number): number => sum / fetches;
  return {
    fetches,
    beforeServingMs: mean(sums.beforeServingMs), readMs: mean(sums.readMs), tokensMs: mean(sums.tokensMs),
    toKernelMs: mean(sums.toKernelMs), afterHandOffMs: mean(sums.afterHandOffMs), totalMs: mean(sums.totalMs),
    bytesInFlightPercent: 100 * shares.reduce((a, b) => a + b, 0) / shares.length,
  };
}

/** The uploader's unused line for the fetch's piece that falls between its request and its arrival, earliest first; marked used. */
function servedLineOf(served: Served[], fetch: DfgetFetch): Served | null {
  let match: Served | null = null;
  for (const s of served) {
    if (s.used || s.piece !== fetch.piece || s.handOffMs < fetch.startMs || s.handOffMs > fetch.endMs) continue;
    if (!match || s.handOffMs < match.handOffMs) match = s;
  }
  if (match) match.used = true;
  return match;
}
