/**
 * The supernode's preheat API (`POST /preheat`, `GET /preheat/<id>`, see core/preheat-api.ts):
 * the driver of the core's `PreheatJobs`. It decodes and bounds each request, names the tasks
 * (taskIds are hashed here, as for a download), reads image manifests from the registry when the
 * core asks (`resolve-image`, image-resolver.ts), and hands each file to the supernode machine as
 * a `preheat` input; the supernode's `preheat-update`s come back through `update()`. The jobs'
 * states, limits and progress are the core's.
 *
 *   request                          answer
 *   POST /preheat (valid, accepted)  202 { id, state, location }   Location: /preheat/<id>
 *   POST /preheat (over a limit)     429 { error }
 *   POST /preheat (bad body)         400 { error } naming the field; 413 past 64 KiB
 *   GET  /preheat/<id>               200 the job's view; 404 unknown (or forgotten) id
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { decodePreheatRequest, PREHEAT_LIMITS, PREHEAT_PATH, type PreheatRequest } from '../../core/preheat-api.ts';
import { PreheatJobs, type PreheatEffect, type PreheatFile, type PreheatInput } from '../../core/preheat.ts';
import type { TaskId, TaskSpec } from '../../core/protocol.ts';
import type { MachineFault, MachineHost } from '../../core/runtime.ts';
import type { PreheatUpdate } from '../../core/supernode-io.ts';
import { hostInRealTime, monotonicNowMs } from '../real-timer.ts';
import { taskIdFor } from '../task-id.ts';
import { blobUrl, resolveImage, type ImageRequest } from './image-resolver.ts';
import type { LogLevel } from './log.ts';

export interface PreheatDeps {
  /** Feed the supernode machine `{ kind: 'preheat', taskId, task }`. */
  startTask(taskId: TaskId, task: TaskSpec): void;
  log(level: LogLevel, message: string): void;
  onFault(fault: MachineFault): void;
}

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export class PreheatService {
  private readonly machine = new PreheatJobs();
  private readonly host: MachineHost<PreheatInput, PreheatEffect>;
  /** Image jobs waiting for their manifests (bounded by the core's active-job limit). */
  private readonly images = new Map<string, ImageRequest>();
  /** The answer to the submission being applied (the core answers synchronously). */
  private answer: PreheatEffect | null = null;
  private readonly abort = new AbortController();

  constructor(private readonly deps: PreheatDeps) {
    this.host = hostInRealTime('preheat', this.machine, (effect) => this.onEffect(effect), deps.onFault, { keepAlive: false });
  }

  /** Whether this request is the preheat API's (then it is answered). */
  handles(req: IncomingMessage, res: ServerResponse, path: string): boolean {
    if (path !== PREHEAT_PATH && !path.startsWith(`${PREHEAT_PATH}/`)) return false;
    this.route(req, res, path).catch((err: unknown) => {
      const status = err instanceof HttpError ? err.status : 500;
      if (status === 500) this.deps.log('error', `preheat request failed: ${(err as Error).stack ?? String(err)}`);
      const message = err instanceof HttpError ? err.message : 'internal error; see the supernode log';
      if (!res.headersSent) sendJson(res, status, { error: message }, status === 413 ? { connection: 'close' } : {});
      else res.destroy();
    });
    return true;
  }

  /** A supernode machine's preheat-update. */
  update(update: PreheatUpdate): void {
    this.host.apply({ kind: 'task-update', update });
  }

  close(): void {
    this.abort.abort();
    this.host.close();
  }

  private async route(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const method = req.method ?? 'GET';
    if (path === PREHEAT_PATH) {
      if (method !== 'POST') throw new HttpError(405, `use POST ${PREHEAT_PATH} with a JSON body to start a preheat`);
      return this.submit(await readBody(req), res);
    }
    if (method !== 'GET') throw new HttpError(405, `use GET ${PREHEAT_PATH}/<id> to see a preheat`);
    const view = this.machine.view(path.slice(PREHEAT_PATH.length + 1), monotonicNowMs());
    if (!view) throw new HttpError(404, 'no such preheat job (ids are kept for an hour after the job ends)');
    sendJson(res, 200, view);
  }

  private submit(body: string, res: ServerResponse): void {
    const decoded = decodePreheatRequest(body);
    if (!decoded.ok) throw new HttpError(400, `bad preheat request: ${decoded.error.path}: ${decoded.error.message}`);
    const request = decoded.msg;
    const jobId = randomBytes(8).toString('hex');
    const files = request.kind === 'file' ? [fileOf(request)] : null;
    if (request.kind === 'image') this.images.set(jobId, request);
    this.answer = null;
    this.host.apply({ kind: 'submit', jobId, label: labelOf(request), files });
    const answer = this.answer as PreheatEffect | null;
    if (answer?.kind !== 'accepted') {
      this.images.delete(jobId);
      throw new HttpError(answer?.kind === 'refused' ? 429 : 503, answer?.kind === 'refused' ? answer.reason : 'the preheat service has stopped');
    }
    const view = this.machine.view(jobId, monotonicNowMs())!;
    this.deps.log('info', `preheat ${jobId} accepted: ${view.label}`);
    res.setHeader('location', `${PREHEAT_PATH}/${jobId}`);
    sendJson(res, 202, { id: jobId, state: view.state, location: `${PREHEAT_PATH}/${jobId}` });
  }

  private onEffect(effect: PreheatEffect): void {
    switch (effect.kind) {
      case 'accepted':
      case 'refused':
        this.answer = effect;
        return;
      case 'resolve-image':
        void this.resolve(effect.jobId);
        return;
      case 'preheat':
        this.deps.startTask(effect.taskId, effect.task);
        return;
      case 'log':
        this.deps.log(effect.level, effect.message);
        return;
    }
  }

  private async resolve(jobId: string): Promise<void> {
    const request = this.images.get(jobId);
    if (!request) return;
    try {
      const image = await resolveImage(request, this.abort.signal);
      const headers: Record<string, string> = image.authorization ? { Authorization: image.authorization } : {};
      const files: PreheatFile[] = image.blobs.map((blob) => {
        const url = blobUrl(request.registry, request.repository, blob.digest);
        return { taskId: taskIdFor({ url, digest: blob.digest }), task: { url, headers, digest: blob.digest }, label: blob.digest };
      });
      this.host.apply({ kind: 'image-resolved', jobId, files });
    } catch (err) {
      this.host.apply({ kind: 'image-failed', jobId, reason: (err as Error).message });
    } finally {
      this.images.delete(jobId);
    }
  }
}

function fileOf(request: Extract<PreheatRequest, { kind: 'file' }>): PreheatFile {
  const task: TaskSpec = {
    url: request.url, headers: request.headers,
    ...(request.digest ? { digest: request.digest } : {}), ...(request.identifier ? { identifier: request.identifier } : {}),
  };
  let taskId: string;
  try {
    taskId = taskIdFor(task);
  } catch (err) {
    throw new HttpError(400, `bad preheat request: $.url: ${(err as Error).message}`);
  }
  return { taskId, task, label: request.url };
}

function labelOf(request: PreheatRequest): string {
  if (request.kind === 'file') return request.url;
  const ref = request.reference.kind === 'tag' ? `:${request.reference.tag}` : `@${request.reference.digest}`;
  return `${request.registry.replace(/^https?:\/\//, '')}/${request.repository}${ref}`;
}

/** The request body as text, refused (413) past the API's limit without reading the rest. */
function readBody(req: IncomingMessage): Promise<string> {
  const limitBytes = PREHEAT_LIMITS.bodyBytes;
  if (Number(req.headers['content-length'] ?? 0) > limitBytes) return Promise.reject(new HttpError(413, `the body is over the ${limitBytes}-byte limit`));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limitBytes) {
        req.removeAllListeners('data');
        req.pause();
        reject(new HttpError(413, `the body is over the ${limitBytes}-byte limit`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(`${JSON.stringify(body)}\n`);
}
