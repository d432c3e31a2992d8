/** A sweep worker: runs the jobs its parent posts, one at a time, and posts back each point. */
import { parentPort } from 'node:worker_threads';
import { runStrategy } from './strategies/index.ts';
import type { SweepJob, SweepPoint } from './sweep.ts';
import { buildWorld } from './world.ts';

if (!parentPort) throw new Error('sweep-worker.ts runs as a worker thread of dfsim sweep');
const port = parentPort;
port.on('message', (job: SweepJob) => {
  const result = runStrategy(job.strategy, buildWorld(job.scenario));
  const point: SweepPoint = {
    settings: job.settings, efficiency: result.efficiency, maxMs: result.completionMs.max, p50Ms: result.completionMs.p50,
    lowerBoundMs: result.lowerBoundMs, originCopies: result.originEgressBytes / result.fileSizeBytes,
    completedHosts: result.completedHosts, wallMs: result.wallMs,
  };
  port.postMessage(point);
});
