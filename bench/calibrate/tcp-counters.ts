/**
 * What TCP went through on the netns testbed's links during a run: per node, the segments its
 * TCP sent and retransmitted, its retransmission timeouts and tail-loss probes (the kernel's own
 * counters of the node's namespace, /proc/net/snmp and /proc/net/netstat), and the packets its two
 * shaped queues dropped (tc's counters: the node's upload queue on its eth0, its download queue on
 * its port in the switch namespace). Read once before t = 0 and once after the last host, and
 * subtracted, so the link checks before the run do not count.
 *
 * The simulator has no losses: its flows share links fluidly. This table says how far from that
 * the live network was (bench/calibrate/README.md, finding 13).
 */
import { run } from './commands.ts';
import type { TestbedNode } from './plan.ts';

export interface TcpCounters {
  segmentsSent: number;
  segmentsRetransmitted: number;
  /** Retransmission timeouts (RTO): a flow stalled for at least the minimum RTO, 200 ms. */
  timeouts: number;
  /** Tail-loss probes sent (a loss at the end of a burst, found within a few round trips). */
  lossProbes: number;
  /** Packets dropped by the node's upload queue (a GSO packet of many segments counts once). */
  queueDropsUp: number;
  /** Packets dropped by the node's download queue. */
  queueDropsDown: number;
  /** Bytes the node's upload link carried (what its shaped queue sent: every packet's headers and retransmissions included). */
  linkBytesUp: number;
  /** Bytes the node's download link carried. */
  linkBytesDown: number;
}

/** One row of the report: a role (origin, sn0, hosts) and its nodes' counters summed. */
export interface RoleTcpCounters extends TcpCounters {
  role: string;
  nodes: number;
}

const ZERO: TcpCounters = { segmentsSent: 0, segmentsRetransmitted: 0, timeouts: 0, lossProbes: 0, queueDropsUp: 0, queueDropsDown: 0, linkBytesUp: 0, linkBytesDown: 0 };

/**
 * The values of one protocol's lines in /proc/net/snmp or /proc/net/netstat: a header line
 * `Tcp: Name1 Name2 ...` followed by a value line `Tcp: 1 2 ...`.
 */
export function parseProcNet(text: string, protocol: string): Map<string, number> {
  const out = new Map<string, number>();
  const lines = text.split('\n').filter((line) => line.startsWith(`${protocol}: `));
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const names = lines[i].split(/\s+/).slice(1);
    const values = lines[i + 1].split(/\s+/).slice(1);
    names.forEach((name, j) => {
      const value = Number(values[j]);
      if (name && Number.isFinite(value)) out.set(name, value);
    });
  }
  return out;
}

/**
 * Drops and bytes sent of the root qdisc in `tc -s -j qdisc show dev X` output (0 when it has
 * none). tc counts a GSO packet's bytes as the segments it becomes on the wire, headers included.
 */
export function parseQdiscStats(json: string): { drops: number; bytes: number } {
  const qdiscs = JSON.parse(json) as { root?: boolean; drops?: number; bytes?: number }[];
  if (!Array.isArray(qdiscs)) throw new Error('tc -j printed no list of qdiscs');
  const root = qdiscs.find((q) => q.root);
  return { drops: root?.drops ?? 0, bytes: root?.bytes ?? 0 };
}

/** The node's counters now. `ns` is its namespace, `switchNs` holds its port named after it. */
export async function readTcpCounters(ns: string, switchNs: string, node: TestbedNode): Promise<TcpCounters> {
  const [proc, up, down] = await Promise.all([
    run(['ip', 'netns', 'exec', ns, 'cat', '/proc/net/snmp', '/proc/net/netstat']),
    run(['tc', '-n', ns, '-s', '-j', 'qdisc', 'show', 'dev', 'eth0']),
    run(['tc', '-n', switchNs, '-s', '-j', 'qdisc', 'show', 'dev', node.name]),
  ]);
  const tcp = parseProcNet(proc, 'Tcp');
  const ext = parseProcNet(proc, 'TcpExt');
  const upQueue = parseQdiscStats(up);
  const downQueue = parseQdiscStats(down);
  return {
    segmentsSent: tcp.get('OutSegs') ?? 0,
    segmentsRetransmitted: tcp.get('RetransSegs') ?? 0,
    timeouts: ext.get('TCPTimeouts') ?? 0,
    lossProbes: ext.get('TCPLossProbes') ?? 0,
    queueDropsUp: upQueue.drops,
    queueDropsDown: downQueue.drops,
    linkBytesUp: upQueue.bytes,
    linkBytesDown: downQueue.bytes,
  };
}

function combine(a: TcpCounters, b: TcpCounters, sign: 1 | -1): TcpCounters {
  return {
    segmentsSent: a.segmentsSent + sign * b.segmentsSent,
    segmentsRetransmitted: a.segmentsRetransmitted + sign * b.segmentsRetransmitted,
    timeouts: a.timeouts + sign * b.timeouts,
    lossProbes: a.lossProbes + sign * b.lossProbes,
    queueDropsUp: a.queueDropsUp + sign * b.queueDropsUp,
    queueDropsDown: a.queueDropsDown + sign * b.queueDropsDown,
    linkBytesUp: a.linkBytesUp + sign * b.linkBytesUp,
    linkBytesDown: a.linkBytesDown + sign * b.linkBytesDown,
  };
}

/** Counters per testbed node, as `NetnsTestbed.tcpCounters` reads them. */
export type NodeTcpCounters = Map<Pick<TestbedNode, 'role' | 'name'>, TcpCounters>;

/**
 * Per role, what happened between two readings: the origin, each supernode, and every host
 * summed as `hosts`.
 */
export function countersByRole(before: NodeTcpCounters, after: NodeTcpCounters): RoleTcpCounters[] {
  const rows = new Map<string, RoleTcpCounters>();
  for (const [node, end] of after) {
    const start = before.get(node);
    if (!start) continue;
    const role = node.role === 'host' ? 'hosts' : node.name;
    const row = rows.get(role) ?? { role, nodes: 0, ...ZERO };
    rows.set(role, { ...combine(row, combine(end, start, -1), 1), role, nodes: row.nodes + 1 });
  }
  const order = (role: string): number => (role === 'origin' ? 0 : role === 'hosts' ? 2 : 1);
  return [...rows.values()].sort((a, b) => order(a.role) - order(b.role) || a.role.localeCompare(b.role));
}

/** Markdown table of `countersByRole`, or null when there is nothing to show. */
export function tcpCountersTable(rows: RoleTcpCounters[] | null): string | null {
  if (!rows || rows.length === 0) return null;
  const percent = (r: RoleTcpCounters): string => (r.segmentsSent > 0 ? `${(100 * r.segmentsRetransmitted / r.segmentsSent).toFixed(1)} %` : '-');
  return [
    '| TCP on the testbed during the run (kernel counters per namespace; queues from tc) | segments sent | retransmitted | timeouts (RTO) | tail-loss probes | dropped by upload queue | by download queue |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map((r) => `| ${r.role === 'hosts' ? `${r.nodes} hosts` : r.role} | ${r.segmentsSent} | ${r.segmentsRetransmitted} (${percent(r)}) | ${r.timeouts} | ${r.lossProbes} | ${r.queueDropsUp} | ${r.queueDropsDown} |`),
  ].join('\n');
}
