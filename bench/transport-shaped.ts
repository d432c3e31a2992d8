/**
 * The shaped case of `npm run bench:transport`: 16 hosts on the calibration testbed's shaped
 * links (one network namespace each, tc-shaped to the `shaped-16` scenario's rates), behind an
 * origin capped at the host rate. It runs `npm run calibrate -- --scenario shaped-16 --direct`:
 * the swarm of real processes first, then the 16 direct pulls (curl) on the same links, and
 * reports the swarm's last host against the fluid bound T_min and the direct pulls' last host
 * (targets: within 1.2 x T_min, >= 10 x faster than direct, origin <= 1.05 copies). The file size
 * (the scenario's 32 MiB unless told) and the links' queues (calibrate's --queues: FIFO unless
 * told) are the bench's `--shaped-file-size` and `--shaped-queues`.
 *
 * Needs root and iproute2 (the netns shape); elsewhere it says why it is skipped.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { netnsUnavailableReason, type QueueMode } from './calibrate/netns.ts';
import type { Calibration } from './calibrate/compare.ts';
import { REPO_ROOT } from './testbed/processes.ts';

export const SHAPED_SCENARIO = 'shaped-16';

export interface ShapedOptions {
  /** File size instead of the scenario's (calibrate --file-size), e.g. 128MiB; undefined = the scenario's. */
  fileSize?: string;
  queues: QueueMode;
}

export interface ShapedResult {
  hosts: number;
  fileBytes: number;
  queues: QueueMode;
  lowerBoundSeconds: number;
  swarmSeconds: number;
  directSeconds: number;
  /** Swarm's last host / T_min. */
  overLowerBound: number;
  /** Direct pulls' last host / swarm's last host. */
  speedup: number;
  originCopies: number;
  directOriginCopies: number;
  /** What the simulator predicted for the swarm's last host, for the same scenario and seed. */
  simulatedSeconds: number;
}

/** Run the shaped case; resolves with its figures, or with the reason it cannot run here. */
export async function runShapedCase(outDir: string, options: ShapedOptions, log: (line: string) => void): Promise<ShapedResult | { skipped: string }> {
  const unavailable = await netnsUnavailableReason();
  if (unavailable) return { skipped: `the netns testbed cannot run here (${unavailable})` };
  const args = ['--import', 'tsx', join(REPO_ROOT, 'bench', 'calibrate', 'cli.ts'), '--scenario', SHAPED_SCENARIO, '--shape', 'netns',
    ...(options.fileSize ? ['--file-size', options.fileSize] : []), '--queues', options.queues,
    '--direct', '--json', '--out', join(outDir, SHAPED_SCENARIO)];
  log(`shaped case: npm run calibrate -- ${args.slice(3).join(' ')}`);
  const c = await runCalibrate(args, log);
  const direct = c.direct!;
  return {
    hosts: c.hosts, fileBytes: c.fileSizeBytes, queues: c.queues, lowerBoundSeconds: c.lowerBoundMs / 1000,
    swarmSeconds: c.live.completionMs.max / 1000, directSeconds: direct.completionMs.max / 1000,
    overLowerBound: direct.liveOverLowerBound, speedup: direct.speedup,
    originCopies: c.live.originEgressBytes / c.fileSizeBytes, directOriginCopies: direct.originEgressBytes / c.fileSizeBytes,
    simulatedSeconds: c.sim.completionMs.max / 1000,
  };
}

function runCalibrate(args: string[], log: (line: string) => void): Promise<Calibration> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { for (const line of chunk.toString().split('\n')) if (line.trim()) log(`  ${line}`); });
    // Ctrl-C reaches the calibrate process too (same process group); it removes its testbed.
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`calibrate exited ${code}; see its lines above`));
      try {
        resolve(JSON.parse(stdout.trim().split('\n').pop() ?? '') as Calibration);
      } catch (err) {
        reject(new Error(`calibrate printed no JSON result: ${(err as Error).message}`));
      }
    });
  });
}
