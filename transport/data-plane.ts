/**
 * The serving side of the data plane, shared by a host's uploader (transport/uploader) and the
 * supernode's CDN (transport/supernode): peers' WebSocket connections to `/data`, each frame
 * decoded into a `piece-request`, and the core `Uploader` (hosted by `MachineHost`) that decides
 * whether it is served (a free slot, under the per-requester cap, the piece held) or refused.
 * What serving means — which bytes, from where, at what rate — is the owner's (`serve`); it calls
 * `finished` when the upload is over, whatever happened, so the slot frees.
 *
 *   event                              core input        effect -> here
 *   /data piece-request (decoded)      piece-request     serve -> owner.serve; refuse -> piece-refused
 *   malformed frame                    -                 the connection closes (4400, reason)
 *   finished(connId, requestId)        upload-finished   -
 *   timer                              timeout           unlisted / exit -> owner
 */
import type { RawData, WebSocket } from 'ws';
import type { MachineFault, MachineHost } from '../core/runtime.ts';
import { Uploader, type UploaderConfig, type UploaderEffect, type UploaderInput } from '../core/uploader.ts';
import { hostInRealTime } from './real-timer.ts';
import { isTaskId } from './task-id.ts';
import { CLOSE_BAD_REQUEST, decodePieceRequest, sendJson } from './wire.ts';

export interface DataPlaneOwner {
  /** Send piece `piece` of `taskId` to connection `connId`; call `finished` when done. */
  serve(connId: string, requestId: number, taskId: string, piece: number): void;
  /** The core unlisted a task nobody asked for. */
  unlisted(taskId: string): void;
  /** The core asked to exit (idle). */
  idle(): void;
  onFault(fault: MachineFault): void;
}

export class UploaderDataPlane {
  private readonly core: Uploader;
  private readonly host: MachineHost<UploaderInput, UploaderEffect>;
  private readonly conns = new Map<string, WebSocket>();
  private nextConnId = 0;
  refusedRequests = 0;
  badFrames = 0;

  constructor(name: string, config: UploaderConfig, private readonly owner: DataPlaneOwner) {
    this.core = new Uploader(config);
    this.host = hostInRealTime(name, this.core, (effect) => this.onEffect(effect), owner.onFault, { keepAlive: false });
    // The first input starts the core's clock, and with it the idle timer: an uploader that is
    // never told of a task (its dfget failed at once) still exits after `idleExitMs`.
    this.host.apply({ kind: 'configure', config });
  }

  get config(): Readonly<UploaderConfig> { return this.core.config; }
  get listedTasks(): number { return this.core.listedTasks; }
  get activeUploads(): number { return this.core.activeUploads; }
  get connections(): number { return this.conns.size; }
  holds(taskId: string, piece: number): boolean { return this.core.holds(taskId, piece); }
  sockets(): WebSocket[] { return [...this.conns.values()]; }
  /** The open connection of `connId`, or undefined once it closed. */
  socket(connId: string): WebSocket | undefined {
    const ws = this.conns.get(connId);
    return ws && ws.readyState === ws.OPEN ? ws : undefined;
  }

  apply(input: Exclude<UploaderInput, { kind: 'piece-request' | 'upload-finished' | 'timeout' }>): void {
    this.host.apply(input);
  }

  accept(ws: WebSocket, onError: (err: Error) => void): void {
    const connId = `data-${++this.nextConnId}`;
    this.conns.set(connId, ws);
    // ws closes the connection itself after an error, with the right code after a protocol error
    // (1009 too big, 1002, 1007): cutting it here would send the peer 1006 instead.
    ws.on('error', onError);
    ws.on('close', () => this.conns.delete(connId));
    ws.on('message', (data: RawData, isBinary: boolean) => this.onFrame(ws, connId, data, isBinary));
  }

  refuse(connId: string, requestId: number, reason: 'missing' | 'busy'): void {
    this.refusedRequests++;
    const ws = this.conns.get(connId);
    if (ws) sendJson(ws, { kind: 'piece-refused', requestId, reason });
  }

  finished(connId: string, requestId: number): void {
    this.host.apply({ kind: 'upload-finished', requestId, from: connId });
  }

  close(): void {
    this.host.close();
  }

  private onFrame(ws: WebSocket, connId: string, data: RawData, isBinary: boolean): void {
    const msg = decodePieceRequest(data, isBinary);
    if (typeof msg === 'string') {
      this.badFrames++;
      // Close reasons are limited to 123 bytes.
      ws.close(CLOSE_BAD_REQUEST, Buffer.from(msg).subarray(0, 120).toString());
      return;
    }
    if (!isTaskId(msg.taskId)) return this.refuse(connId, msg.requestId, 'missing');
    this.host.apply({ kind: 'piece-request', from: connId, requestId: msg.requestId, taskId: msg.taskId, piece: msg.piece });
  }

  private onEffect(effect: UploaderEffect): void {
    switch (effect.kind) {
      case 'serve': return this.owner.serve(effect.to, effect.requestId, effect.taskId, effect.piece);
      case 'refuse': return this.refuse(effect.to, effect.requestId, effect.reason);
      case 'unlisted': return this.owner.unlisted(effect.taskId);
      case 'exit': return this.owner.idle();
    }
  }
}
