/**
 * Limits on the supernode's sockets, so one address or a pile of silent sockets cannot use up
 * its memory and file descriptors:
 *
 * - at most `maxPerAddress` WebSocket connections (control and data together) from one remote
 *   address; the excess is accepted and closed at once with 1013 (try again later) and a reason
 *   naming the address, the limit and the flag, so the client can say why;
 * - a socket that has not become a WebSocket (nor finished an HTTP request) after `idleTimeoutMs`
 *   of silence is destroyed (a slow or idle client holding sockets open);
 * - every `idleTimeoutMs` each WebSocket is pinged; one that sent nothing (no frame, no pong)
 *   since the previous ping is dead or hung and is terminated. A live peer that is only seeding
 *   answers pings and stays.
 */
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';

export const CLOSE_TRY_AGAIN_LATER = 1013;

export interface ConnectionLimitOptions { maxPerAddress: number; idleTimeoutMs: number }

export class ConnectionLimits {
  private readonly perAddress = new Map<string, number>();
  private readonly heard = new Map<WebSocket, boolean>();
  private readonly timer: NodeJS.Timeout | null;
  refused = 0;
  terminatedIdle = 0;

  constructor(private readonly opts: ConnectionLimitOptions) {
    this.timer = opts.idleTimeoutMs > 0 ? setInterval(() => this.sweep(), opts.idleTimeoutMs) : null;
    this.timer?.unref();
  }

  /** A new TCP connection: silent past the idle timeout, it is destroyed (until `upgraded`). */
  onSocket(socket: Socket): void {
    if (this.opts.idleTimeoutMs <= 0) return;
    socket.setTimeout(this.opts.idleTimeoutMs, () => socket.destroy());
  }

  /**
   * Count a new WebSocket from `addr`; over the limit it is closed with a reason and false is
   * returned (the caller does nothing more with it).
   */
  admit(ws: WebSocket, socket: Socket): boolean {
    socket.setTimeout(0);
    const addr = socket.remoteAddress ?? 'unknown';
    const count = this.perAddress.get(addr) ?? 0;
    if (this.opts.maxPerAddress > 0 && count >= this.opts.maxPerAddress) {
      this.refused++;
      ws.close(CLOSE_TRY_AGAIN_LATER, `too many connections from ${addr} (limit ${this.opts.maxPerAddress}, --max-connections-per-address)`.slice(0, 120));
      return false;
    }
    this.perAddress.set(addr, count + 1);
    this.heard.set(ws, true);
    const heard = (): void => { this.heard.set(ws, true); };
    ws.on('message', heard);
    ws.on('pong', heard);
    ws.once('close', () => {
      this.heard.delete(ws);
      const left = (this.perAddress.get(addr) ?? 1) - 1;
      if (left > 0) this.perAddress.set(addr, left); else this.perAddress.delete(addr);
    });
    return true;
  }

  get connections(): number { return this.heard.size; }

  close(): void { if (this.timer) clearInterval(this.timer); }

  private sweep(): void {
    for (const [ws, heard] of this.heard) {
      if (!heard) {
        this.terminatedIdle++;
        ws.terminate();
        continue;
      }
      this.heard.set(ws, false);
      try { ws.ping(); } catch { /* closing */ }
    }
  }
}
