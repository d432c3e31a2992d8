/**
 * The live processes' own counters the calibration report uses: the origin's (from
 * origin-process.ts), the supernode's, read from its Prometheus `/metrics` text, and the CPU a
 * warm dfget's download used.
 */
/**
 * dfget-armed.ts reports the CPU its download used, and how long its main thread waited for a CPU,
 * on a stderr line starting with this.
 */
export const CPU_LINE_PREFIX = 'calibrate-cpu ';

/**
 * Time a thread has spent runnable but waiting for a CPU (the second field of Linux's
 * /proc/<pid>/schedstat or /proc/<pid>/task/<tid>/schedstat), in ms; null when unreadable.
 */
export function runQueueWaitMsOf(schedstatPath: string, read: (path: string) => string): number | null {
  try {
    const waitNs = Number(read(schedstatPath).trim().split(/\s+/)[1]);
    return Number.isFinite(waitNs) ? waitNs / 1e6 : null;
  } catch {
    return null;
  }
}

export interface OriginCounters {
  /** Body bytes the origin wrote to sockets: origin egress. */
  bytesSent: number;
  requests: number;
  rangeRequests: number;
  /** [epoch ms, body bytes sent so far] while the count grew. */
  series: [number, number][];
}

export interface SupernodeCounters {
  /** Piece bytes served to peers: supernode egress. */
  servedBytes: number;
  /** Body bytes the CDN read from the origin. */
  sourceBytes: number;
  piecesFromSupernode: number;
  piecesFromPeers: number;
}

const METRIC_OF: Record<keyof SupernodeCounters, string> = {
  servedBytes: 'supernode_served_bytes_total',
  sourceBytes: 'supernode_source_bytes_total',
  piecesFromSupernode: 'supernode_pieces_assigned_from_supernode_total',
  piecesFromPeers: 'supernode_pieces_assigned_from_peers_total',
};

/** The counters above from a /metrics body; throws naming the first one missing. */
export function parseMetrics(text: string): SupernodeCounters {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const [name, value] = line.trim().split(/\s+/);
    values.set(name, Number(value));
  }
  const out = {} as SupernodeCounters;
  for (const [key, metric] of Object.entries(METRIC_OF) as [keyof SupernodeCounters, string][]) {
    const value = values.get(metric);
    if (value === undefined || !Number.isFinite(value)) throw new Error(`the supernode's /metrics has no ${metric}; is it a supernode of this version?`);
    out[key] = value;
  }
  return out;
}
