/**
 * The seeder's driver: the control-plane WebSockets behind the core `Seeder` (core/seeder.ts),
 * which decides where each finished download is registered, when a lost supernode is retried and
 * when to leave. This file opens and closes one socket per supernode as told, frames what the
 * core sends and feeds back `connected`, `connection-lost` and every decoded message.
 *
 *   effect       what happens here                      input fed back
 *   connect      ws://SUPERNODE/peer?peerId=<seeder id>  connected | connection-lost
 *   send         a JSON text frame                      -
 *   disconnect   close after the frames sent            - (its close is not reported)
 *   settings     the owner reconfigures its uploader     -
 *   log          the uploader's log                     -
 *   (frame)      decoded (garbage is logged, dropped)   supernode-message
 */
import { WebSocket, type RawData } from 'ws';
import { decodeSupernodeToPeer, parseJsonSafe } from '../../core/decode.ts';
import type { MachineFault, MachineHost } from '../../core/runtime.ts';
import { Seeder, type SeedTask, type SeederEffect, type SeederInput } from '../../core/seeder.ts';
import type { PeerSettings } from '../../core/settings.ts';
import { hostInRealTime } from '../real-timer.ts';
import { controlUrl, MAX_TEXT_FRAME_BYTES, rawToBuffer } from '../wire.ts';
import type { UploaderLog } from './piece-server.ts';

/** A live supernode can take seconds to finish a handshake on a loaded host. */
const CONNECT_TIMEOUT_MS = 15_000;

export interface SeederHooks {
  log: UploaderLog;
  /** A supernode sent this host its fleet's settings. */
  onSettings(settings: PeerSettings, supernode: string): void;
  onFault(fault: MachineFault): void;
}

export class SeederDriver {
  private readonly machine: Seeder;
  private readonly host: MachineHost<SeederInput, SeederEffect>;
  private readonly sockets = new Map<string, WebSocket>();
  private closed = false;

  constructor(private readonly peerId: string, uploadAddr: string, settings: PeerSettings, private readonly hooks: SeederHooks) {
    this.machine = new Seeder(uploadAddr, settings);
    this.host = hostInRealTime('seeder', this.machine, (effect) => this.onEffect(effect), hooks.onFault, { keepAlive: false });
  }

  get seededTasks(): number { return this.machine.seededTasks; }

  seed(seed: SeedTask): void { this.host.apply({ kind: 'seed', seed }); }
  unseed(taskId: string): void { this.host.apply({ kind: 'unseed', taskId }); }
  configure(settings: PeerSettings): void { this.host.apply({ kind: 'configure', settings }); }

  /** Close every link; the supernodes drop this peer's registrations with them. */
  close(): void {
    this.closed = true;
    this.host.close();
    for (const ws of this.sockets.values()) ws.close();
    this.sockets.clear();
  }

  private onEffect(effect: SeederEffect): void {
    switch (effect.kind) {
      case 'connect': return this.open(effect.supernode);
      case 'disconnect': {
        const ws = this.sockets.get(effect.supernode);
        this.sockets.delete(effect.supernode);
        if (ws?.readyState === WebSocket.CONNECTING) ws.terminate();
        else ws?.close();
        return;
      }
      case 'send': {
        const ws = this.sockets.get(effect.to);
        if (ws?.readyState === WebSocket.OPEN) ws.send(JSON.stringify(effect.msg));
        return;
      }
      case 'settings': return this.hooks.onSettings(effect.settings, effect.supernode);
      case 'log': return this.hooks.log(effect.level, effect.message);
    }
  }

  private open(addr: string): void {
    if (this.closed) return;
    let ws: WebSocket;
    try {
      ws = new WebSocket(controlUrl(addr, this.peerId), { maxPayload: MAX_TEXT_FRAME_BYTES, handshakeTimeout: CONNECT_TIMEOUT_MS });
    } catch (err) {
      const reason = `bad supernode address (${(err as Error).message})`;
      queueMicrotask(() => this.host.apply({ kind: 'connection-lost', supernode: addr, reason }));
      return;
    }
    this.sockets.set(addr, ws);
    const current = (): boolean => this.sockets.get(addr) === ws;
    let lastError = '';
    ws.on('open', () => { if (current()) this.host.apply({ kind: 'connected', supernode: addr }); });
    ws.on('message', (data: RawData, isBinary: boolean) => { if (current()) this.onFrame(addr, data, isBinary); });
    ws.on('error', (err: NodeJS.ErrnoException) => {
      lastError = err.code ?? err.message;
      ws.terminate();
    });
    ws.on('close', (code: number) => {
      if (!current()) return;
      this.sockets.delete(addr);
      this.host.apply({ kind: 'connection-lost', supernode: addr, reason: lastError || `closed, code ${code}` });
    });
  }

  private onFrame(addr: string, data: RawData, isBinary: boolean): void {
    const parsed = isBinary ? null : parseJsonSafe(rawToBuffer(data).toString('utf8'));
    const decoded = parsed?.ok ? decodeSupernodeToPeer(parsed.msg) : null;
    if (!decoded?.ok) {
      this.hooks.log('warn', `seeding: supernode ${addr} sent an undecodable message; ignored`);
      return;
    }
    this.host.apply({ kind: 'supernode-message', from: addr, msg: decoded.msg });
  }
}
