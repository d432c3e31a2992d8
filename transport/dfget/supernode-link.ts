/**
 * Control-plane connections of one download: a WebSocket per supernode (`ws://ADDR/peer?peerId=`),
 * opened when the core first sends to that supernode. Messages sent before the socket opens are
 * queued (bounded). Incoming frames are decoded with core/decode.ts before the core sees them; a
 * frame that does not decode ends the connection like a failure. When a connection fails or closes, `onDown`
 * fires once with the reason (ECONNREFUSED, close code, ...) so the core can migrate and the
 * user's error can name what happened.
 */
import { WebSocket, type RawData } from 'ws';
import { decodeSupernodeToPeer, parseJsonSafe } from '../../core/decode.ts';
import type { PeerToSupernode, SupernodeToPeer } from '../../core/protocol.ts';
import { CLOSE_DUPLICATE_PEER, controlUrl, MAX_TEXT_FRAME_BYTES, rawToBuffer } from '../wire.ts';

/** Generous: on a loaded host a live supernode can take seconds to finish a handshake, and a
 * timeout here sends the download to the next supernode or to the source. */
const CONNECT_TIMEOUT_MS = 15_000;
const MAX_QUEUED_MESSAGES = 256;

export interface SupernodeEvents {
  onMessage(addr: string, msg: SupernodeToPeer): void;
  onDown(addr: string, reason: string): void;
  log(message: string): void;
}

class Link {
  private readonly ws: WebSocket;
  private readonly queue: string[] = [];
  private down = false;

  constructor(readonly addr: string, peerId: string, private readonly events: SupernodeEvents) {
    this.ws = new WebSocket(controlUrl(addr, peerId), { maxPayload: MAX_TEXT_FRAME_BYTES, handshakeTimeout: CONNECT_TIMEOUT_MS });
    this.ws.on('open', () => {
      for (const text of this.queue.splice(0)) this.ws.send(text);
    });
    this.ws.on('message', (data: RawData, isBinary: boolean) => {
      if (isBinary) return events.log(`supernode ${addr} sent a binary control frame; ignored`);
      const parsed = parseJsonSafe(rawToBuffer(data).toString('utf8'));
      const decoded = parsed.ok ? decodeSupernodeToPeer(parsed.msg) : null;
      if (!decoded?.ok) {
        // Dropping the message alone would leave the core waiting on an answer that never
        // comes; a supernode that breaks the protocol is treated as down (the core migrates).
        const why = !parsed.ok ? parsed.error.message : decoded ? `${decoded.error.path}: ${decoded.error.message}` : 'undecodable';
        events.log(`supernode ${addr} sent an invalid message (${why}); dropping the connection`);
        return this.markDown(`sent an invalid message (${why})`);
      }
      events.onMessage(addr, decoded.msg);
    });
    this.ws.on('error', (err: NodeJS.ErrnoException) => this.markDown(err.code ?? err.message));
    this.ws.on('close', (code: number, reason: Buffer) => {
      const text = code === CLOSE_DUPLICATE_PEER ? 'another connection uses this peer id' : reason.toString() || `closed, code ${code}`;
      this.markDown(text);
    });
  }

  send(msg: PeerToSupernode): void {
    if (this.down) return;
    const text = JSON.stringify(msg);
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(text);
    else if (this.queue.length < MAX_QUEUED_MESSAGES) this.queue.push(text);
    else this.markDown('too many messages queued while connecting');
  }

  close(): void {
    this.down = true;
    if (this.ws.readyState === WebSocket.CONNECTING) this.ws.terminate();
    else this.ws.close();
  }

  private markDown(reason: string): void {
    if (this.down) return;
    this.down = true;
    this.ws.terminate();
    this.events.onDown(this.addr, reason);
  }
}

export class SupernodeLinks {
  private readonly links = new Map<string, Link>();
  /** Why each supernode went down, for the user's error message. */
  readonly downReasons = new Map<string, string>();

  constructor(private readonly peerId: string, private readonly events: SupernodeEvents) {}

  send(addr: string, msg: PeerToSupernode): void {
    let link = this.links.get(addr);
    if (!link) {
      try {
        link = new Link(addr, this.peerId, {
          ...this.events,
          onDown: (a, reason) => { this.downReasons.set(a, reason); this.events.onDown(a, reason); },
        });
      } catch (err) {
        this.downReasons.set(addr, `bad address (${(err as Error).message})`);
        queueMicrotask(() => this.events.onDown(addr, this.downReasons.get(addr)!));
        return;
      }
      this.links.set(addr, link);
    }
    link.send(msg);
  }

  /** Close every connection; queued `report`/`leave` frames already written still go out. */
  close(): void {
    for (const link of this.links.values()) link.close();
  }
}
