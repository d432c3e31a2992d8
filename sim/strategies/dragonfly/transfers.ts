/**
 * The data-plane transfers a dragonfly run tracks, by id: a piece fetch between a host and its
 * source, a CDN stream from the origin into a supernode, a host's back-to-source download. The
 * id is the network flow's tag and the argument of the events that move the transfer along, so
 * an event carries no object. Ids are reused once a transfer ends.
 */
import type { Grant, PeerId } from '../../../core/protocol.ts';

export type TransferKind = 'piece' | 'cdn' | 'source';

export interface Transfer {
  kind: TransferKind;
  /** Requesting host (piece, source) or supernode index (cdn). */
  owner: number;
  /** The piece moving now (cdn: the run's current piece; source: -1). */
  piece: number;
  /** Source as the core names it (a PeerId or SUPERNODE; 'origin' for cdn and source). */
  source: PeerId;
  sourceNode: number;
  sizeBytes: number;
  /** Network flow while bytes move, else -1. */
  flowId: number;
  /** The requester gave up on it (cancel-fetch) or its fetch was dropped: end it at the next step. */
  cancelled: boolean;
  /** cdn: end (exclusive) of the run of pieces this ranged GET streams; else -1. */
  runEnd: number;
  /** piece: counted on its connection (connections.ts `flowStarting`, its slow start charged) until it ends. */
  onConnection: boolean;
  /** piece: the grant the request carries, checked by the source's uploader. */
  grant?: Grant;
}

export class Transfers {
  private readonly table: (Transfer | null)[] = [];
  private readonly freeIds: number[] = [];
  /**
   * The running fetch of a piece by a host: host * pieceCount + piece -> transfer id. The key
   * stays a small integer for the swarms that matter (a larger one would make every lookup hash
   * a heap number).
   */
  private readonly fetchOf = new Map<number, number>();

  /** `pieceCount`: pieces of the task (every host's plan is the supernode's). */
  constructor(private readonly pieceCount: number) {}

  open(transfer: Transfer): number {
    const id = this.freeIds.pop() ?? this.table.length;
    this.table[id] = transfer;
    if (transfer.kind === 'piece') this.fetchOf.set(transfer.owner * this.pieceCount + transfer.piece, id);
    return id;
  }

  get(id: number): Transfer {
    const transfer = this.table[id];
    if (!transfer) throw new Error(`transfer ${id} is not open`);
    return transfer;
  }

  /** The transfer id of host's running fetch of piece, or -1. */
  fetchOfPiece(host: number, piece: number): number {
    return this.fetchOf.get(host * this.pieceCount + piece) ?? -1;
  }

  /** Forget host's running fetch of piece (it was cancelled); its transfer lives on until its next step. */
  forgetFetch(host: number, piece: number): void {
    this.fetchOf.delete(host * this.pieceCount + piece);
  }

  end(id: number): void {
    const transfer = this.get(id);
    if (transfer.kind === 'piece') {
      const key = transfer.owner * this.pieceCount + transfer.piece;
      if (this.fetchOf.get(key) === id) this.fetchOf.delete(key);
    }
    this.table[id] = null;
    this.freeIds.push(id);
  }
}
