/**
 * The baseline a P2P rollout is measured against: every host pulls the file straight from the
 * origin (`curl -o`, as a host without small-dragonfly would), on the same testbed and links,
 * each at its arrival time. Run after the swarm, on the same origin; its egress is counted from
 * the origin's own counter, as the swarm's is.
 *
 * In the netns shape the links shape both runs alike; in the app shape curl's `--limit-rate`
 * stands in for the host's downlink (the origin's own cap applies to both runs).
 */
import { createHash } from 'node:crypto';
import { createReadStream, rmSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { percentiles, type Percentiles } from '../../sim/result.ts';
import { run, sleepMs } from './commands.ts';
import type { Launcher } from './launcher.ts';
import type { TestbedPlan } from './plan.ts';

export interface DirectResult {
  /** Per host, arrival to curl's exit; null where the pull failed. */
  hostsMs: (number | null)[];
  completionMs: Percentiles;
  /** Hosts whose file had the origin's SHA-256. */
  digestsOk: number;
  originEgressBytes: number;
  errors: string[];
}

/** A progress line this often while the pulls run (16 direct pulls of 128 MiB take about 10 minutes). */
const PROGRESS_EVERY_MS = 30_000;

export interface DirectOptions {
  launcher: Launcher;
  workDir: string;
  url: string;
  fileDigest: string;
  /** Give up on a pull after this long (raised to four times the origin-bound time of all pulls, if that is longer). */
  timeoutMs: number;
  /** The origin's body bytes sent so far (read before and after the pulls). */
  originBytesSent: () => Promise<number>;
  log: (message: string) => void;
}

export async function runDirect(plan: TestbedPlan, opts: DirectOptions): Promise<DirectResult> {
  const { launcher, log } = opts;
  const app = launcher.shape === 'app';
  // Every host's copy leaves the origin, at its rate less the headers (goodput): allow four times that, plus a minute.
  const originBoundMs = (1000 * plan.hosts.length * plan.scenario.fileSizeBytes) / (plan.origin.upBytesPerSec * plan.scenario.goodput);
  const timeoutMs = Math.ceil(Math.max(opts.timeoutMs, 4 * originBoundMs + 60_000));
  const before = await opts.originBytesSent();
  log(`direct pulls: ${plan.hosts.length} hosts fetch the file from the origin with curl, on the same links `
    + `(the origin alone sends every copy: about ${(originBoundMs / 1000).toFixed(0)} s)`);
  const t0 = performance.now();
  const hostsMs: (number | null)[] = plan.hosts.map(() => null);
  const errors: string[] = [];
  let digestsOk = 0;
  let ended = 0;
  const progress = setInterval(() => {
    log(`direct pulls: ${ended}/${plan.hosts.length} ended, ${((performance.now() - t0) / 1000).toFixed(0)} s of about ${(originBoundMs / 1000).toFixed(0)} s`);
  }, PROGRESS_EVERY_MS);
  try {
    await Promise.all(plan.hosts.map(async (host) => {
      await sleepMs(Math.max(0, host.arrivalMs - (performance.now() - t0)));
      const startedMs = performance.now();
      const output = join(opts.workDir, `${host.name}-direct.bin`);
      const limit = app && host.downBytesPerSec > 0 ? ['--limit-rate', String(Math.floor(host.downBytesPerSec))] : [];
      try {
        await run(launcher.argv(host, ['curl', '--silent', '--show-error', '--fail', '--output', output, ...limit, opts.url]), timeoutMs);
        hostsMs[host.index] = performance.now() - startedMs;
        if (await fileDigestOf(output) === opts.fileDigest) digestsOk++;
        else errors.push(`${host.name}: the direct pull's file differs from the origin's`);
      } catch (err) {
        errors.push(`${host.name}: ${(err as Error).message}`);
      } finally {
        rmSync(output, { force: true });
        ended++;
      }
    }));
  } finally {
    clearInterval(progress);
  }
  const done = hostsMs.filter((ms): ms is number => ms !== null);
  const completionMs = percentiles(done);
  log(`direct pulls: ${done.length}/${plan.hosts.length} done, last at ${(completionMs.max / 1000).toFixed(1)} s`);
  return { hostsMs, completionMs, digestsOk, originEgressBytes: await opts.originBytesSent() - before, errors };
}

/** `sha256:<hex>` of a file, or 'missing' when it cannot be read. */
export async function fileDigestOf(path: string): Promise<string> {
  const hash = createHash('sha256');
  try {
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  } catch {
    return 'missing';
  }
  return `sha256:${hash.digest('hex')}`;
}
