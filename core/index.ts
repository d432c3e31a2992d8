/**
 * The core's public API in one import, for drivers, benches and notebooks:
 * `import { Supernode, Peer, TokenBucket, parseBytes } from '../core/index.ts'`.
 * Every core module is re-exported here (test/core/purity.test.ts checks none is left out).
 */
export * from './bitset.ts';
export * from './blacklist.ts';
export * from './config.ts';
export * from './decode.ts';
export * from './drive.ts';
export * from './eviction.ts';
export * from './host-place.ts';
export * from './image-manifest.ts';
export * from './json-fields.ts';
export * from './manager-api.ts';
export * from './peer-io.ts';
export * from './peer.ts';
export * from './piece-ranges.ts';
export * from './pieces.ts';
export * from './preheat-api.ts';
export * from './preheat.ts';
export * from './protocol.ts';
export * from './rarity-order.ts';
export * from './rng.ts';
export * from './runtime.ts';
export * from './scheduler.ts';
export * from './seeder.ts';
export * from './settings.ts';
export * from './source-fetch.ts';
export * from './supernode-choice.ts';
export * from './supernode-directory.ts';
export * from './supernode-io.ts';
export * from './supernode.ts';
export * from './task-key.ts';
export * from './token-bucket.ts';
export * from './topology.ts';
export * from './units.ts';
export * from './uploader.ts';
export * from './waiters.ts';
