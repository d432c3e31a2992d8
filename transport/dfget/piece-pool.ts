/**
 * Piece buffers of this process: received pieces are read into them (data-socket.ts), hashed in
 * place by the hash worker (so they are shared memory) and written from them; the whole-file
 * digest reads pieces back into them. Enough is retained for the pieces of a few downloads in
 * flight (peerDownLimit each) and the writes behind them.
 */
import { BufferPool } from '../buffer-pool.ts';

export const piecePool = new BufferPool(256 * 1024 * 1024, true);
