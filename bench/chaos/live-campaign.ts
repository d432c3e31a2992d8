/**
 * The live part of the chaos campaign: `rounds` rounds, fault kinds in rotation (LIVE_FAULTS),
 * each round in its own dir under `workDir` with its own supernode and swarm, and its own
 * deadline: a round whose body has not ended by then is a hang, and everything it started is
 * stopped all the same. One HTTP origin (in this process, 32 MB/s so CDN fetches take a while)
 * serves every round's file.
 */
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { childRng } from '../../sim/seeded-rng.ts';
import { HttpOrigin } from '../testbed/http-origin.ts';
import { contentFor, DEFAULT_LIARS, LIVE_FAULTS, SWARM } from './live-faults.ts';
import { Round, type RoundOutcome } from './live-round.ts';

export interface LiveRoundResult extends RoundOutcome { round: number; kind: string; seconds: number }

export interface LiveOptions { rounds: number; seed: string; deadlineMs: number; workDir: string; log: (line: string) => void; firstRound?: number; liars?: number }

export async function runLiveRounds(opts: LiveOptions): Promise<LiveRoundResult[]> {
  const origin = await HttpOrigin.start({ rateBytesPerSec: 32 * 1024 * 1024 });
  const results: LiveRoundResult[] = [];
  try {
    const first = opts.firstRound ?? 0;
    for (let index = first; index < first + opts.rounds; index++) {
      const result = await runRound(origin, index, opts);
      results.push(result);
      opts.log(describe(result));
    }
  } finally {
    await origin.close();
  }
  return results;
}

async function runRound(origin: HttpOrigin, index: number, opts: LiveOptions): Promise<LiveRoundResult> {
  const [kind, body, supernodeArgs] = LIVE_FAULTS[index % LIVE_FAULTS.length];
  const dir = join(opts.workDir, `round-${index}`);
  mkdirSync(dir, { recursive: true });
  const round = new Round(index, dir, origin, `/round-${index}.bin`, childRng(opts.seed, `live/${index}`), opts.liars ?? DEFAULT_LIARS);
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await round.put(contentFor(round, 0));
    await round.startSupernode(supernodeArgs);
    const deadline = new Promise<'hung'>((resolve) => { timer = setTimeout(() => resolve('hung'), opts.deadlineMs); });
    const ended = await Promise.race([body(round).then(() => 'ended' as const), deadline]);
    if (ended === 'hung') {
      round.outcome.hung = true;
      round.note(`did not end by its ${opts.deadlineMs / 1000} s deadline`);
    }
  } catch (err) {
    round.outcome.failedDownloads++;
    round.note(`round error: ${(err as Error).message.slice(0, 1500)}`);
  } finally {
    clearTimeout(timer);
    await round.close(SWARM + 1);
  }
  return { ...round.outcome, round: index, kind, seconds: (Date.now() - started) / 1000 };
}

export function describe(r: LiveRoundResult): string {
  const bad = [r.corruptOutputs && `${r.corruptOutputs} CORRUPT`, r.failedDownloads && `${r.failedDownloads} failed`, r.hung && 'HUNG',
    r.honestBlacklisted && `${r.honestBlacklisted} honest blacklisted`, r.leaked && `${r.leaked} LEAKED`].filter(Boolean).join(', ');
  return `live round ${r.round} (${r.kind}): ${r.downloads} downloads, ${r.cleanFailures} clean failures, ${bad || 'ok'} in ${r.seconds.toFixed(1)} s`
    + (r.notes.length > 0 ? `\n    ${r.notes.slice(0, 6).join('\n    ')}` : '');
}
