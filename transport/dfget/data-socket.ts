/**
 * The client end of one data-plane connection (`ws://ADDR/data`), written for this one job: the
 * socket's reads land straight in the buffer that will hold the piece (net `onread`), so a piece
 * arrives with no copy and no allocation in user space.
 *
 * Why not the ws package here: it reads the socket the Node way — a fresh 64 KiB buffer per read,
 * then a copy of every message into a fresh buffer — and on this machine that cost 2.1 s of CPU
 * per GiB received where reading into the piece's own buffer costs 0.5 s (`npm run
 * bench:data-plane`). The servers (uploader, supernode) still speak through ws; nothing on the
 * wire changed.
 *
 * Theory of operation. After the HTTP upgrade (101, Sec-WebSocket-Accept checked), the reader
 * moves through fixed-size reads, each asking the kernel for exactly the bytes the next step
 * needs, so no read spills into the next frame:
 *
 *   step       bytes read into          then
 *   head       2, scratch               extended length (2 or 8), or the payload
 *   payload    text/close/ping/pong ≤ 64 KiB into scratch; a binary frame's 4-byte header length,
 *              its header JSON, then the piece bytes into `pieceBuffer(header)` (or a discard buffer)
 *
 * What this reader refuses (the connection breaks, `onBroken`): masked, fragmented or compressed
 * frames (our servers send none), a piece frame whose header is malformed or whose size does not
 * add up, text frames over 64 KiB. Requests go out as masked text frames.
 */
import { createHash, randomBytes, randomFillSync } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import type { PieceDataMsg } from '../../core/protocol.ts';
import { dataUrl, decodePieceFrameHeader, HEADER_LENGTH_BYTES, MAX_HEADER_BYTES, MAX_PIECE_BYTES, MAX_TEXT_FRAME_BYTES } from '../wire.ts';

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const MAX_HANDSHAKE_BYTES = 8 * 1024;
const OP_TEXT = 0x1;
const OP_BINARY = 0x2;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;
const OP_PONG = 0xa;

export interface DataSocketEvents {
  /** The upgrade completed; requests may be sent. */
  onOpen(): void;
  /** Where the piece of `header` is to be read: a buffer of exactly `header.sizeBytes`, or null to discard it. */
  pieceBuffer(header: PieceDataMsg): Buffer | null;
  /** The piece of `header` is in the buffer `pieceBuffer` gave (null: it was discarded). */
  onPiece(header: PieceDataMsg, bytes: Buffer | null): void;
  onText(text: string): void;
  /** The connection is over (refused, closed, cut, timed out, or broken by the sender): said once. */
  onClosed(reason: string, broken: boolean): void;
}

type Step =
  | { kind: 'handshake' }
  | { kind: 'head' }
  | { kind: 'length'; opcode: number }
  | { kind: 'control'; opcode: number }
  | { kind: 'prefix'; payloadBytes: number }
  | { kind: 'header'; payloadBytes: number }
  | { kind: 'piece'; header: PieceDataMsg; target: Buffer | null };

export class DataSocket {
  private readonly socket: Socket;
  private readonly scratch = Buffer.allocUnsafe(Math.max(MAX_HEADER_BYTES, MAX_TEXT_FRAME_BYTES, MAX_HANDSHAKE_BYTES));
  private readonly discard = Buffer.allocUnsafe(64 * 1024);
  private readonly key = randomBytes(16).toString('base64');
  private step: Step = { kind: 'handshake' };
  /** The buffer the current read fills, how far, and how many bytes it wants in all. */
  private window: Buffer = this.scratch;
  private filled = 0;
  private wanted = MAX_HANDSHAKE_BYTES;
  /** Piece bytes still to come of a discarded piece (read through `discard`). */
  private discardLeft = 0;
  private open = false;
  private over = false;

  constructor(readonly addr: string, private readonly events: DataSocketEvents, connectTimeoutMs: number) {
    const url = new URL(dataUrl(addr));
    const host = url.hostname.replace(/^\[|\]$/g, '');
    this.socket = connect({
      host, port: Number(url.port || 80),
      onread: { buffer: () => this.window.subarray(this.filled, this.wanted), callback: (nread: number) => this.onRead(nread) },
    });
    this.socket.setNoDelay(true);
    this.socket.setTimeout(connectTimeoutMs, () => this.end(`no WebSocket handshake from ${addr} in ${connectTimeoutMs} ms`, false));
    this.socket.once('connect', () => {
      this.socket.write(`GET ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`
        + `Sec-WebSocket-Key: ${this.key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    });
    this.socket.on('error', (err: NodeJS.ErrnoException) => this.end(err.code ?? err.message, false));
    this.socket.on('close', () => this.end(this.open ? `connection to ${addr} closed` : `connection to ${addr} closed during the handshake`, false));
  }

  get isOpen(): boolean { return this.open && !this.over; }

  /** Send `text` as one masked text frame (requests are small: under 64 KiB). */
  send(text: string): void {
    if (!this.isOpen) return;
    this.socket.write(maskedFrame(OP_TEXT, Buffer.from(text, 'utf8')));
  }

  /** Close politely (a close frame, then the socket). */
  close(): void {
    if (this.over) return;
    if (this.open) this.socket.end(maskedFrame(OP_CLOSE, Buffer.from([0x03, 0xe8])));
    this.end('closed by this side', false);
  }

  private end(reason: string, broken: boolean): void {
    if (this.over) return;
    this.over = true;
    this.open = false;
    // A socket already ended (after a close frame) is left to finish sending it.
    if (!this.socket.writableEnded) this.socket.destroy();
    this.events.onClosed(reason, broken);
  }

  private breakWith(reason: string): false {
    this.end(`${this.addr} broke the data protocol: ${reason}`, true);
    return false;
  }

  /** Ask for exactly `bytes` more bytes into `into` (from its start). */
  private expect(step: Step, into: Buffer, bytes: number): void {
    this.step = step;
    this.window = into;
    this.filled = 0;
    this.wanted = bytes;
  }

  private onRead(nread: number): boolean {
    if (this.over) return false;
    if (this.step.kind === 'piece' && this.step.target === null) {
      this.discardLeft -= nread;
      if (this.discardLeft > 0) {
        this.wanted = Math.min(this.discard.length, this.discardLeft);
        return true;
      }
      return this.pieceDone(this.step.header, null);
    }
    this.filled += nread;
    if (this.step.kind === 'handshake') return this.onHandshake();
    if (this.filled < this.wanted) return true;
    return this.advance();
  }

  private onHandshake(): boolean {
    const end = this.scratch.subarray(0, this.filled).indexOf('\r\n\r\n');
    if (end < 0) return this.filled < this.wanted ? true : this.breakWith('handshake answer too long');
    // Our servers send nothing before the first request; bytes past the head would be a protocol break.
    if (end + 4 !== this.filled) return this.breakWith('data after the handshake answer');
    const head = this.scratch.subarray(0, end).toString('latin1');
    const status = /^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1];
    if (status !== '101') {
      this.end(`${this.addr} refused the data connection (HTTP ${status ?? '?'}); is it an uploader or supernode?`, false);
      return false;
    }
    const accept = /\r\nsec-websocket-accept:\s*(\S+)/i.exec(head)?.[1];
    if (accept !== createHash('sha1').update(this.key + WS_GUID).digest('base64')) return this.breakWith('wrong Sec-WebSocket-Accept');
    this.socket.setTimeout(0);
    this.open = true;
    this.expect({ kind: 'head' }, this.scratch, 2);
    this.events.onOpen();
    return !this.over;
  }

  private advance(): boolean {
    const step = this.step;
    switch (step.kind) {
      case 'head': return this.onHead();
      case 'length': return this.onLength(step.opcode);
      case 'control': return this.onControl(step.opcode);
      case 'prefix': return this.onPrefix(step.payloadBytes);
      case 'header': return this.onHeader(step.payloadBytes);
      case 'piece': return this.pieceDone(step.header, step.target);
      case 'handshake': return this.onHandshake();
    }
  }

  private onHead(): boolean {
    const b0 = this.scratch[0];
    const b1 = this.scratch[1];
    const opcode = b0 & 0x0f;
    if ((b0 & 0x80) === 0 || opcode === 0) return this.breakWith('fragmented frame');
    if ((b0 & 0x70) !== 0) return this.breakWith('reserved bits set (no extension was agreed)');
    if ((b1 & 0x80) !== 0) return this.breakWith('masked frame from a server');
    const length7 = b1 & 0x7f;
    if (length7 === 126) this.expect({ kind: 'length', opcode }, this.scratch, 2);
    else if (length7 === 127) this.expect({ kind: 'length', opcode }, this.scratch, 8);
    else return this.onPayloadLength(opcode, length7);
    return true;
  }

  private onLength(opcode: number): boolean {
    const bytes = this.wanted === 2 ? this.scratch.readUInt16BE(0) : Number(this.scratch.readBigUInt64BE(0));
    return this.onPayloadLength(opcode, bytes);
  }

  private onPayloadLength(opcode: number, payloadBytes: number): boolean {
    if (opcode === OP_BINARY) {
      if (payloadBytes < HEADER_LENGTH_BYTES || payloadBytes > HEADER_LENGTH_BYTES + MAX_HEADER_BYTES + MAX_PIECE_BYTES) {
        return this.breakWith(`piece frame of ${payloadBytes} bytes`);
      }
      this.expect({ kind: 'prefix', payloadBytes }, this.scratch, HEADER_LENGTH_BYTES);
      return true;
    }
    if (![OP_TEXT, OP_CLOSE, OP_PING, OP_PONG].includes(opcode)) return this.breakWith(`unknown opcode ${opcode}`);
    if (payloadBytes > MAX_TEXT_FRAME_BYTES) return this.breakWith(`text or control frame of ${payloadBytes} bytes`);
    this.expect({ kind: 'control', opcode }, this.scratch, payloadBytes);
    return payloadBytes === 0 ? this.onControl(opcode) : true;
  }

  private onControl(opcode: number): boolean {
    const payload = this.scratch.subarray(0, this.wanted);
    if (opcode === OP_CLOSE) {
      const code = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
      this.socket.end(maskedFrame(OP_CLOSE, payload.subarray(0, 2)));
      this.end(`${this.addr} closed the connection (code ${code}${payload.length > 2 ? `, ${payload.subarray(2).toString('utf8')}` : ''})`, false);
      return false;
    }
    if (opcode === OP_PING) this.socket.write(maskedFrame(OP_PONG, Buffer.from(payload)));
    const text = opcode === OP_TEXT ? payload.toString('utf8') : null;
    this.expect({ kind: 'head' }, this.scratch, 2);
    if (text !== null) this.events.onText(text);
    return !this.over;
  }

  private onPrefix(payloadBytes: number): boolean {
    const headerBytes = this.scratch.readUInt32BE(0);
    if (headerBytes === 0 || headerBytes > MAX_HEADER_BYTES || HEADER_LENGTH_BYTES + headerBytes > payloadBytes) {
      return this.breakWith(`piece header length ${headerBytes} in a ${payloadBytes}-byte frame`);
    }
    this.expect({ kind: 'header', payloadBytes }, this.scratch, headerBytes);
    return true;
  }

  private onHeader(payloadBytes: number): boolean {
    const header = decodePieceFrameHeader(this.scratch.subarray(0, this.wanted));
    if (typeof header === 'string') return this.breakWith(`malformed piece header: ${header}`);
    if (HEADER_LENGTH_BYTES + this.wanted + header.sizeBytes !== payloadBytes) {
      return this.breakWith(`header says ${header.sizeBytes} bytes but the frame carries ${payloadBytes - HEADER_LENGTH_BYTES - this.wanted}`);
    }
    const target = header.sizeBytes > 0 ? this.events.pieceBuffer(header) : null;
    if (this.over) return false;
    if (header.sizeBytes === 0) return this.pieceDone(header, Buffer.alloc(0));
    if (target && target.length === header.sizeBytes) {
      this.expect({ kind: 'piece', header, target }, target, header.sizeBytes);
    } else {
      this.discardLeft = header.sizeBytes;
      this.expect({ kind: 'piece', header, target: null }, this.discard, Math.min(this.discard.length, header.sizeBytes));
    }
    return true;
  }

  private pieceDone(header: PieceDataMsg, bytes: Buffer | null): boolean {
    this.expect({ kind: 'head' }, this.scratch, 2);
    this.events.onPiece(header, bytes);
    return !this.over;
  }
}

/** A client frame: FIN, `opcode`, masked with a fresh key (RFC 6455 5.3). */
function maskedFrame(opcode: number, payload: Buffer): Buffer {
  const length = payload.length;
  const extended = length < 126 ? 0 : length < 65536 ? 2 : 8;
  const frame = Buffer.allocUnsafe(2 + extended + 4 + length);
  frame[0] = 0x80 | opcode;
  if (extended === 0) frame[1] = 0x80 | length;
  else if (extended === 2) { frame[1] = 0x80 | 126; frame.writeUInt16BE(length, 2); }
  else { frame[1] = 0x80 | 127; frame.writeBigUInt64BE(BigInt(length), 2); }
  const maskAt = 2 + extended;
  randomFillSync(frame, maskAt, 4);
  for (let i = 0; i < length; i++) frame[maskAt + 4 + i] = payload[i] ^ frame[maskAt + (i & 3)];
  return frame;
}
