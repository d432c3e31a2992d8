/**
 * Prometheus text exposition (format 0.0.4) of the supernode's counters and gauges. The numbers
 * come from the core's stats, the CDN and the data plane; this file only names them.
 */
import { renderPrometheus, type MetricTable } from '../prometheus.ts';

export interface SupernodeMetrics {
  tasks: number;
  peers: number;
  controlConnections: number;
  dataConnections: number;
  sourceBytes: number;
  sourceRequests: number;
  servedBytes: number;
  piecesServed: number;
  piecesRefused: number;
  piecesAssignedFromSupernode: number;
  piecesAssignedFromPeers: number;
  cdnPiecesStored: number;
  cdnPiecesLost: number;
  cdnFetchesCompleted: number;
  activeUploads: number;
  framesRejected: number;
  peersGloballyBlacklisted: number;
  peersSelfIsolated: number;
  cdnCacheBytes: number;
  cdnTasksEvicted: number;
}

const HELP: MetricTable<keyof SupernodeMetrics> = {
  tasks: ['supernode_tasks', 'gauge', 'Tasks the scheduler tracks.'],
  peers: ['supernode_peers', 'gauge', 'Peers registered for at least one task.'],
  controlConnections: ['supernode_control_connections', 'gauge', 'Open control-plane WebSocket connections.'],
  dataConnections: ['supernode_data_connections', 'gauge', 'Open data-plane WebSocket connections.'],
  sourceBytes: ['supernode_source_bytes_total', 'counter', 'Body bytes read from sources by the CDN.'],
  sourceRequests: ['supernode_source_requests_total', 'counter', 'HTTP requests sent to sources.'],
  servedBytes: ['supernode_served_bytes_total', 'counter', 'Piece bytes served to peers.'],
  piecesServed: ['supernode_pieces_served_total', 'counter', 'Pieces served to peers.'],
  piecesRefused: ['supernode_pieces_refused_total', 'counter', 'Piece requests refused (busy or missing).'],
  piecesAssignedFromSupernode: ['supernode_pieces_assigned_from_supernode_total', 'counter', 'Piece assignments with the supernode as the source.'],
  piecesAssignedFromPeers: ['supernode_pieces_assigned_from_peers_total', 'counter', 'Piece assignments with another peer as the source.'],
  cdnPiecesStored: ['supernode_cdn_pieces_stored_total', 'counter', 'Pieces fetched from sources and stored in the cache.'],
  cdnPiecesLost: ['supernode_cdn_pieces_lost_total', 'counter', 'Cached pieces found missing or corrupt before serving.'],
  cdnFetchesCompleted: ['supernode_cdn_fetches_completed_total', 'counter', 'Source fetches that completed with the whole-file digest.'],
  activeUploads: ['supernode_active_uploads', 'gauge', 'Piece uploads in progress.'],
  framesRejected: ['supernode_frames_rejected_total', 'counter', 'Malformed or unexpected frames from peers.'],
  peersGloballyBlacklisted: ['supernode_peers_globally_blacklisted', 'gauge', 'Peers no one is sent to any more (per task), self-isolated ones included.'],
  peersSelfIsolated: ['supernode_peers_self_isolated', 'gauge', 'Peers that download only from the supernode after repeated failures (per task).'],
  cdnCacheBytes: ['supernode_cdn_cache_bytes', 'gauge', 'Bytes in the CDN cache as last counted (listing plus writes since).'],
  cdnTasksEvicted: ['supernode_cdn_tasks_evicted_total', 'counter', 'Tasks evicted from the CDN cache to stay under --cache-max.'],
};

export function renderMetrics(metrics: SupernodeMetrics): string {
  return renderPrometheus(HELP, metrics);
}
