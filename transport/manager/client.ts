/**
 * How a host finds its supernodes through the managing node, per the seed: "When started for the
 * first time, the client accesses the managing node, which assigns the most suitable supernode
 * and distributes the list of all other supernodes; the client stores this in the meta directory.
 * The next job reads the meta information, avoiding the managing node. The client registers with
 * the assigned node; if that fails, with the others in order. If all fail, it requests the
 * managing node once again, updates the meta information and repeats. If that fails, the job
 * fails."
 *
 * `ManagerClient.run(attempt)` carries out exactly those steps around an attempt (a download that
 * walks the list it is given, as dfget does with `--node a,b`). Beyond the seed: a cache older
 * than `refreshAfterMs` is refreshed from the manager first — falling back to the old list if no
 * manager answers — so hosts learn of closer supernodes within the hour; and several managers may
 * be given, asked in order.
 */
import { decodeChooseAnswer, MANAGER_API_PATH, type ChooseAnswer, type ChooseQuery } from '../../core/manager-api.ts';
import { readManagerMeta, writeManagerMeta, type ManagerMeta } from './meta-cache.ts';

export interface ManagerClientOptions {
  /** Base URLs, e.g. `http://10.0.0.9:8004` (see parseManagerList). */
  managers: string[];
  idc: string;
  location: string;
  /** `<home>/meta`. */
  metaDir: string;
  /** Per request to a manager. */
  requestTimeoutMs?: number;
  /** A meta cache older than this is refreshed before use (stale is still used if no manager answers). */
  refreshAfterMs?: number;
  log?: (level: 'info' | 'warn', message: string) => void;
}

export const DEFAULT_REFRESH_AFTER_MS = 60 * 60_000;

/** No manager answered. The message names each one and why. */
export class ManagerUnreachableError extends Error {}

/** A manager answered but listed no live supernode. */
export class NoSupernodeError extends Error {}

export interface SupernodeList {
  /** `host:port`, the assigned one first. */
  supernodes: string[];
  from: 'cache' | 'manager';
}

export class ManagerClient {
  constructor(private readonly opts: ManagerClientOptions) {
    if (opts.managers.length === 0) throw new Error('ManagerClient needs at least one manager URL');
  }

  private get query(): ChooseQuery { return { idc: this.opts.idc, location: this.opts.location }; }

  /** The list to try: the meta cache when it is warm and fresh, else the manager's answer (stored). */
  async supernodes(nowEpochMs = Date.now()): Promise<SupernodeList> {
    const cached = await readManagerMeta(this.opts.metaDir, this.opts.managers, this.query);
    const refreshAfterMs = this.opts.refreshAfterMs ?? DEFAULT_REFRESH_AFTER_MS;
    if (cached && nowEpochMs - cached.fetchedAtEpochMs < refreshAfterMs) return { supernodes: addresses(cached), from: 'cache' };
    try {
      return { supernodes: await this.refresh(nowEpochMs), from: 'manager' };
    } catch (err) {
      if (!cached) throw err;
      this.opts.log?.('warn', `${(err as Error).message}; using the supernode list cached at ${new Date(cached.fetchedAtEpochMs).toISOString()}`);
      return { supernodes: addresses(cached), from: 'cache' };
    }
  }

  /** Ask the manager(s), store the answer in meta, and return its list. */
  async refresh(nowEpochMs = Date.now()): Promise<string[]> {
    const { manager, answer } = await askManagers(this.opts.managers, this.query, this.opts.requestTimeoutMs ?? 5000);
    if (answer.supernodes.length === 0) {
      throw new NoSupernodeError(`manager ${manager} knows no live supernode; start supernodes with --manager ${manager}, or give --node`);
    }
    const meta: ManagerMeta = {
      version: 1, managers: this.opts.managers, idc: this.opts.idc, location: this.opts.location,
      assigned: answer.assigned, supernodes: answer.supernodes, fetchedAtEpochMs: nowEpochMs,
    };
    await writeManagerMeta(this.opts.metaDir, meta).catch((err: Error) => this.opts.log?.('warn', `cannot write the meta cache: ${err.message}`));
    this.opts.log?.('info', `manager ${manager} assigned ${answer.assigned} (of ${answer.supernodes.length} supernodes)`);
    return addresses(answer);
  }

  /**
   * The seed's steps: try the cached (or fresh) list; when `allFailed(err)` says every supernode
   * in it failed, ask the manager once again, store the new list and try it; a second failure, or
   * any other error, is the job's.
   */
  async run<T>(attempt: (supernodes: string[]) => Promise<T>, allFailed: (err: unknown) => boolean): Promise<T> {
    const first = await this.supernodes();
    try {
      return await attempt(first.supernodes);
    } catch (err) {
      if (!allFailed(err)) throw err;
      this.opts.log?.('warn', `every supernode of ${first.supernodes.join(', ')} failed (${(err as Error).message}); asking the manager again`);
      let fresh: string[];
      try {
        fresh = await this.refresh();
      } catch (askErr) {
        throw new ManagerUnreachableError(`${(err as Error).message}; asking the manager for other supernodes failed too: ${(askErr as Error).message}`);
      }
      return attempt(fresh);
    }
  }
}

function addresses(answer: Pick<ChooseAnswer, 'supernodes'>): string[] {
  return answer.supernodes.map((s) => s.address);
}

/** The first manager that answers, in order; throws ManagerUnreachableError naming every failure. */
export async function askManagers(managers: string[], query: ChooseQuery, timeoutMs: number): Promise<{ manager: string; answer: ChooseAnswer }> {
  const failures: string[] = [];
  for (const manager of managers) {
    const params = new URLSearchParams({ idc: query.idc, location: query.location });
    let res: Response;
    try {
      res = await fetch(`${manager}${MANAGER_API_PATH}?${params.toString()}`, { signal: AbortSignal.timeout(timeoutMs) });
    } catch (err) {
      failures.push(`cannot reach manager ${hostOf(manager)} (${networkCause(err)})`);
      continue;
    }
    const text = await res.text().catch((err: Error) => `(body unreadable: ${err.message})`);
    if (res.status !== 200) {
      failures.push(`manager ${hostOf(manager)} answered HTTP ${res.status}: ${errorText(text)}`);
      continue;
    }
    const decoded = decodeChooseAnswer(text);
    if (!decoded.ok) {
      failures.push(`manager ${hostOf(manager)} sent a malformed answer (${decoded.error.path}: ${decoded.error.message})`);
      continue;
    }
    return { manager, answer: decoded.msg };
  }
  throw new ManagerUnreachableError(`${failures.join('; ')}; is it running? set --manager, or give --node`);
}

/** `--manager` as given: `host:port` or `http(s)://host:port`, comma-separated; base URLs out. */
export function parseManagerList(text: string): string[] {
  const managers = text.split(',').map((s) => s.trim()).filter((s) => s.length > 0).map(managerBaseUrl);
  if (managers.length === 0) throw new Error('give at least one manager, e.g. http://10.0.0.9:8004');
  return managers;
}

function managerBaseUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`);
  } catch {
    throw new Error(`"${text}" is not a URL (e.g. http://10.0.0.9:8004)`);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.search !== '' || url.hash !== '' || url.pathname !== '/') {
    throw new Error(`"${text}" must be http(s)://host:port with no path (e.g. http://10.0.0.9:8004)`);
  }
  return `${url.protocol}//${url.host}`;
}

function hostOf(base: string): string {
  return base.replace(/^https?:\/\//, '');
}

function errorText(text: string): string {
  try {
    const body = JSON.parse(text) as { error?: unknown };
    if (typeof body.error === 'string') return body.error.slice(0, 300);
  } catch {
    // not JSON: show the start of it
  }
  return text.slice(0, 300);
}

/** The system error code behind a failed fetch (ECONNREFUSED, ENOTFOUND, ...), or its message. */
export function networkCause(err: unknown): string {
  if ((err as Error).name === 'TimeoutError') return 'timed out';
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err as Error).message;
}
