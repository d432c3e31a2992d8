/**
 * Keeps this supernode listed at its managing node(s): announces address, IDC, location and load
 * at start, again every `heartbeatIntervalMs` the manager asked for (a third of its TTL), and
 * withdraws on shutdown so hosts are not sent to a supernode that is going away.
 *
 * A manager that cannot be reached (down, restarting, refusing) is retried with exponential
 * back-off from `retryMinMs` to `retryMaxMs`, with jitter so a fleet of supernodes does not
 * hammer a manager that just came back in lockstep. Each manager has its own loop: one being
 * down does not delay announcements to the others. The log says when a manager is lost and when
 * it is back, not on every retry.
 */
import { decodeAnnounceReply, MANAGER_API_PATH, type AnnounceMsg } from '../../core/manager-api.ts';
import { networkCause } from '../manager/client.ts';

export interface AnnouncerOptions {
  /** Base URLs of the managers, e.g. `http://10.0.0.9:8004`. */
  managers: string[];
  address: string;
  idc: string;
  location: string;
  /** Peers served now, sent with each heartbeat; absent = not reported. */
  load?: () => number;
  log: (level: 'info' | 'warn', message: string) => void;
  retryMinMs?: number;
  retryMaxMs?: number;
  requestTimeoutMs?: number;
}

/** Bounds on the heartbeat interval a manager may ask for, so a bad answer cannot spin or stall us. */
const MIN_HEARTBEAT_MS = 200;
const MAX_HEARTBEAT_MS = 10 * 60_000;

export class ManagerAnnouncer {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly failures = new Map<string, number>();
  private closed = false;
  private readonly abort = new AbortController();

  constructor(private readonly opts: AnnouncerOptions) {}

  start(): void {
    for (const manager of this.opts.managers) void this.announce(manager);
  }

  /** Stop announcing and withdraw from every manager (best effort, bounded by the request timeout). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.abort.abort();
    await Promise.all(this.opts.managers.map(async (manager) => {
      const url = `${manager}${MANAGER_API_PATH}/${encodeURIComponent(this.opts.address)}`;
      try {
        const res = await fetch(url, { method: 'DELETE', signal: AbortSignal.timeout(this.opts.requestTimeoutMs ?? 2000) });
        await res.arrayBuffer();
      } catch {
        // The manager drops us when the lease runs out anyway.
      }
    }));
  }

  private async announce(manager: string): Promise<void> {
    if (this.closed) return;
    const msg: AnnounceMsg = {
      address: this.opts.address, idc: this.opts.idc, location: this.opts.location, load: this.opts.load ? this.opts.load() : null,
    };
    let nextMs: number;
    try {
      const intervalMs = await this.post(manager, msg);
      const failuresBefore = this.failures.get(manager) ?? -1;
      if (failuresBefore !== 0) {
        this.opts.log('info', `announced to manager ${manager} as ${msg.address} (idc "${msg.idc}", location "${msg.location}"); heartbeat every ${intervalMs} ms`);
      }
      this.failures.set(manager, 0);
      nextMs = intervalMs;
    } catch (err) {
      if (this.closed) return;
      const failures = Math.max(0, this.failures.get(manager) ?? 0) + 1;
      this.failures.set(manager, failures);
      nextMs = this.backoffMs(failures);
      if (failures === 1) {
        this.opts.log('warn', `cannot announce to manager ${manager}: ${(err as Error).message}; retrying with back-off up to ${this.opts.retryMaxMs ?? 30_000} ms`);
      }
    }
    if (this.closed) return;
    const timer = setTimeout(() => void this.announce(manager), nextMs);
    timer.unref();
    this.timers.set(manager, timer);
  }

  /** POST the announcement; resolves with the heartbeat interval the manager asked for. */
  private async post(manager: string, msg: AnnounceMsg): Promise<number> {
    const signal = AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.opts.requestTimeoutMs ?? 5000)]);
    let res: Response;
    try {
      res = await fetch(`${manager}${MANAGER_API_PATH}`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(msg), signal,
      });
    } catch (err) {
      throw new Error(`cannot reach it (${networkCause(err)}); is it running? check --manager`);
    }
    const text = await res.text();
    if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${text.slice(0, 300)}`);
    const reply = decodeAnnounceReply(text);
    if (!reply.ok) throw new Error(`malformed answer (${reply.error.path}: ${reply.error.message}); is ${manager} a small-dragonfly manager?`);
    return Math.min(MAX_HEARTBEAT_MS, Math.max(MIN_HEARTBEAT_MS, reply.msg.heartbeatIntervalMs));
  }

  private backoffMs(failures: number): number {
    const minMs = this.opts.retryMinMs ?? 1000;
    const maxMs = this.opts.retryMaxMs ?? 30_000;
    const baseMs = Math.min(maxMs, minMs * 2 ** Math.min(failures - 1, 30));
    return Math.round(baseMs * (0.8 + 0.4 * Math.random()));
  }
}
