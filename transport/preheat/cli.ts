/**
 * `preheat`: ask supernodes to fetch a file or an image into their CDN before hosts pull it, and
 * (unless `--no-wait`) follow each job until it ends.
 *
 *   preheat --node 10.0.0.1:8002,10.0.0.2:8002 --image http://registry.example:5000/team/app:v1
 *   preheat --manager http://10.0.0.9:8004 --idc hz-1 --url https://example.org/big.iso
 *
 * It posts the API's JSON (core/preheat-api.ts) to `POST /preheat` of each supernode and polls
 * `GET /preheat/<id>`. Exit status: 0 every job succeeded, 1 a job failed, 2 bad flags,
 * 3 a supernode (or the manager) could not be reached or refused the job.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { parsePlatform, PREHEAT_PATH, type PreheatRequest } from '../../core/preheat-api.ts';
import type { PreheatJobView } from '../../core/preheat.ts';
import { formatBytes, parseDurationMs } from '../../core/units.ts';
import { askManagers, networkCause, parseManagerList } from '../manager/client.ts';
import { sleep } from '../real-timer.ts';
import { DEFAULT_SUPERNODE_PORT } from '../wire.ts';
import { parseImageReference } from './image-reference.ts';

export const EXIT = { ok: 0, failed: 1, usage: 2, unreachable: 3 } as const;
const POLL_MS = 500;

interface Flags {
  node?: string; manager?: string; idc?: string; url?: string; header: Record<string, string>; digest?: string; identifier?: string;
  image?: string; username?: string; password?: string; platform: string[]; wait: boolean; timeout: number; json: boolean;
}

class UsageError extends Error {}
class UnreachableError extends Error {}

function buildProgram(): Command {
  const collect = (value: string, previous: string[]): string[] => [...previous, value];
  return new Command('preheat')
    .description('Fetch a file or an image into supernodes\' CDN caches before hosts pull it.')
    .option('--node <host:port,...>', 'supernodes to preheat on')
    .option('--manager <url,...>', 'ask this managing node for the supernodes (every one it lists, or those of --idc)')
    .option('--idc <name>', 'with --manager: only the supernodes of this IDC')
    .option('--url <url>', 'a file to preheat (as dfget --url would download it)')
    .addOption(new Option('--header <"Name: value">', 'header for the source, e.g. Authorization (repeatable)').argParser(header).default({}, 'none'))
    .option('--digest <sha256:hex>', 'expected SHA-256 of the file (the same task as dfget --digest)')
    .option('--identifier <id>', 'the same task as dfget --identifier')
    .option('--image <ref>', 'an image: [http(s)://]registry[:port]/repository[:tag|@sha256:...] (https unless http:// is given)')
    .option('--username <name>', 'registry user (Basic, or traded for a token as engines do)')
    .option('--password <secret>', 'registry password')
    .addOption(new Option('--platform <os/arch[/variant]>', 'platform of an index to preheat (repeatable)').argParser(collect).default([], 'every platform'))
    .option('--no-wait', 'print the job ids and exit without following them')
    .addOption(new Option('--timeout <duration>', 'stop following after this long (the jobs go on)').argParser((t) => asArg(() => parseDurationMs(t))).default(60 * 60_000, '1h'))
    .option('--json', 'print each job\'s final view as a JSON line', false)
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(`preheat: ${text.replace(/^error: /, '')}`) });
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    program.parse(argv);
  } catch (err) {
    return (err as { exitCode?: number }).exitCode === 0 ? EXIT.ok : EXIT.usage;
  }
  try {
    const flags = program.opts<Flags>();
    const request = requestOf(flags);
    const supernodes = await supernodesOf(flags);
    const jobs = await Promise.all(supernodes.map(async (node) => ({ node, id: await submit(node, request) })));
    for (const job of jobs) process.stderr.write(`preheat: ${job.node} accepted job ${job.id}\n`);
    if (!flags.wait) {
      for (const job of jobs) process.stdout.write(`${JSON.stringify(job)}\n`);
      return EXIT.ok;
    }
    const views = await Promise.all(jobs.map((job) => follow(job.node, job.id, flags.timeout)));
    for (const [i, view] of views.entries()) {
      if (flags.json) process.stdout.write(`${JSON.stringify({ node: jobs[i].node, ...view })}\n`);
      process.stderr.write(`preheat: ${jobs[i].node} ${view.label}: ${view.state}, ${view.filesDone}/${view.files.length} files, `
        + `${formatBytes(view.bytesDone)} in ${(view.elapsedMs / 1000).toFixed(1)} s${view.error ? ` (${view.error})` : ''}\n`);
    }
    return views.every((v) => v.state === 'succeeded') ? EXIT.ok : EXIT.failed;
  } catch (err) {
    process.stderr.write(`preheat: ${(err as Error).message}\n`);
    return err instanceof UsageError ? EXIT.usage : err instanceof UnreachableError ? EXIT.unreachable : EXIT.failed;
  }
}

function requestOf(flags: Flags): PreheatRequest {
  if ((flags.url === undefined) === (flags.image === undefined)) throw new UsageError('give either --url or --image; see preheat --help');
  if ((flags.username === undefined) !== (flags.password === undefined)) throw new UsageError('--username and --password go together');
  if (flags.url !== undefined) {
    return { kind: 'file', url: flags.url, headers: flags.header, ...(flags.digest ? { digest: flags.digest } : {}), ...(flags.identifier ? { identifier: flags.identifier } : {}) };
  }
  const ref = parseImageReference(flags.image!);
  if (typeof ref === 'string') throw new UsageError(`--image: ${ref}`);
  const platforms = flags.platform.map((text) => {
    const platform = parsePlatform(text);
    if (typeof platform === 'string') throw new UsageError(`--platform: ${platform}`);
    return platform;
  });
  return {
    kind: 'image', ...ref, headers: flags.header, platforms: platforms.length > 0 ? platforms : null,
    credentials: flags.username !== undefined ? { username: flags.username, password: flags.password! } : null,
  };
}

async function supernodesOf(flags: Flags): Promise<string[]> {
  if ((flags.node === undefined) === (flags.manager === undefined)) throw new UsageError('give either --node or --manager; see preheat --help');
  if (flags.node !== undefined) {
    return flags.node.split(',').map((s) => s.trim()).filter(Boolean).map((s) => (s.includes(':') ? s : `${s}:${DEFAULT_SUPERNODE_PORT}`));
  }
  let managers: string[];
  try {
    managers = parseManagerList(flags.manager!);
  } catch (err) {
    throw new UsageError(`--manager: ${(err as Error).message}`);
  }
  const idc = flags.idc ?? '';
  const { answer } = await askManagers(managers, { idc, location: '' }, 10_000).catch((err: Error) => { throw new UnreachableError(err.message); });
  const chosen = answer.supernodes.filter((s) => idc === '' || s.idc === idc).map((s) => s.address);
  if (chosen.length === 0) throw new UnreachableError(`the manager lists no live supernode${idc ? ` in IDC ${idc}` : ''}`);
  return chosen;
}

async function submit(node: string, request: PreheatRequest): Promise<string> {
  const res = await call(node, PREHEAT_PATH, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(toBody(request)) });
  const body = await res.json().catch(() => ({})) as { id?: unknown; error?: unknown };
  if (res.status !== 202 || typeof body.id !== 'string') {
    const why = typeof body.error === 'string' ? body.error : `HTTP ${res.status}`;
    throw (res.status === 400 ? new UsageError(`${node} refused the request: ${why}`) : new UnreachableError(`${node} refused the job: ${why}`));
  }
  return body.id;
}

async function follow(node: string, id: string, timeoutMs: number): Promise<PreheatJobView> {
  const deadline = Date.now() + timeoutMs;
  let lastFiles = -1;
  for (;;) {
    const res = await call(node, `${PREHEAT_PATH}/${id}`, {});
    if (res.status !== 200) throw new UnreachableError(`${node} answered HTTP ${res.status} for job ${id}; did the supernode restart?`);
    const view = await res.json() as PreheatJobView;
    if (view.state === 'succeeded' || view.state === 'failed') return view;
    if (view.filesDone !== lastFiles) {
      lastFiles = view.filesDone;
      process.stderr.write(`preheat: ${node} ${view.label}: ${view.state}, ${view.filesDone}/${view.files.length} files, ${formatBytes(view.bytesDone)}\n`);
    }
    if (Date.now() > deadline) throw new UnreachableError(`job ${id} on ${node} still ${view.state} after --timeout; it goes on (GET ${PREHEAT_PATH}/${id})`);
    await sleep(POLL_MS);
  }
}

async function call(node: string, path: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(`http://${node}${path}`, { ...init, signal: AbortSignal.timeout(30_000) });
  } catch (err) {
    throw new UnreachableError(`cannot reach supernode ${node} (${networkCause(err)}); is it running? check --node`);
  }
}

/** The request as the API's JSON body. */
function toBody(request: PreheatRequest): Record<string, unknown> {
  if (request.kind === 'file') {
    const { kind: _kind, ...rest } = request;
    return { type: 'file', ...rest };
  }
  return {
    type: 'image', registry: request.registry, repository: request.repository, headers: request.headers,
    ...(request.reference.kind === 'tag' ? { tag: request.reference.tag } : { digest: request.reference.digest }),
    ...(request.credentials ?? {}), ...(request.platforms ? { platforms: request.platforms.map((p) => [p.os, p.architecture, p.variant].filter(Boolean).join('/')) } : {}),
  };
}

function header(text: string, previous: Record<string, string>): Record<string, string> {
  const at = text.indexOf(':');
  if (at <= 0) throw new InvalidArgumentError(`"${text}" is not "Name: value"`);
  return { ...previous, [text.slice(0, at).trim()]: text.slice(at + 1).trim() };
}

function asArg<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}
