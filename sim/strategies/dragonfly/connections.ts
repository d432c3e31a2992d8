/**
 * What a piece costs on a real TCP connection besides its bytes and one round trip: opening the
 * connection, and TCP's slow start. Off unless the scenario's `tcp:` block turns it on
 * (sim/scenario.ts `TcpModel`); then it is the sim's model of dfget's data plane
 * (transport/dfget/piece-client.ts), which keeps one connection per source address for the whole
 * download.
 *
 * - **Opening.** A requester's first fetch from a source waits `connectRoundTrips` round trips
 *   (TCP's handshake, then the WebSocket upgrade: 2) before its request leaves; fetches to the
 *   same source meanwhile wait for the same connection.
 * - **Slow start.** A new connection sends `initialWindowBytes` in its first round trip and
 *   doubles that each round trip until the flow's share of the path is in flight. One idle for
 *   `restartAfterIdleMs` or more (Linux's `tcp_slow_start_after_idle`: a retransmission timeout,
 *   at least 200 ms) starts from its full window halved once per such time idle, never below
 *   the initial window (`tcp_cwnd_restart`), and grows back the same way. The flow is modelled
 *   as starting at its full rate after the time slow start loses (`slowStartLossMs`); other
 *   flows that join the connection meanwhile wait for the same moment, and once it has passed, a
 *   connection carrying a flow is warm. Across IDCs (40 ms round trip, 50 Mbit/s) a new
 *   connection loses about 125 ms, one idle for 200–400 ms about 20 ms; inside one IDC (1 ms)
 *   the window is open before the first round trip ends and it costs nothing.
 *
 * Found by `npm run calibrate` on calibration-two-idc: a piece that crossed the IDCs on a new
 * connection took 0.3 s longer live than one inside an IDC, where the simulator had only its
 * 40 ms of latency (bench/calibrate/README.md, finding 10).
 */
import type { TcpModel } from '../../scenario.ts';
import type { Network } from '../../network.ts';

interface Connection {
  /** When the connection is (or was) ready for requests. */
  openAtMs: number;
  /** Flows on it now (or ramping up). */
  active: number;
  /** When its last flow ended; -1 before the first. */
  lastEndMs: number;
  /** When its window is open after its latest slow start: flows that join it before then wait for it. */
  warmAtMs: number;
}

export class Connections {
  private readonly byPair = new Map<number, Connection>();

  constructor(private readonly tcp: TcpModel, private readonly network: Network) {}

  /** How long a request from `host` (at `hostNode`) takes to reach `sourceNode`: opening its connection first if there is none. */
  requestDelayMs(nowMs: number, hostNode: number, sourceNode: number, latencyMs: number): number {
    const conn = this.connection(hostNode, sourceNode, nowMs + this.tcp.connectRoundTrips * 2 * latencyMs);
    return Math.max(0, conn.openAtMs - nowMs) + latencyMs;
  }

  /**
   * A flow of `sizeBytes` is about to start on the connection: how long slow start holds it back
   * (0 when the connection is warm; until the window opens when it is warming up for another
   * flow), and the connection counts it as running from now.
   */
  flowStarting(nowMs: number, hostNode: number, sourceNode: number, sizeBytes: number, latencyMs: number): number {
    const conn = this.connection(hostNode, sourceNode, nowMs);
    const cold = conn.active === 0 && (conn.lastEndMs < 0 || (this.tcp.restartAfterIdleMs > 0 && nowMs - conn.lastEndMs >= this.tcp.restartAfterIdleMs));
    conn.active++;
    if (this.tcp.initialWindowBytes <= 0) return 0;
    if (!cold) return Math.max(0, conn.warmAtMs - nowMs);
    // The share the flow will get: what the local sharing rule would grant it alone (network.ts).
    const net = this.network;
    const shareBps = Math.min(net.nodeUpBps(sourceNode) / (net.outFlowCount(sourceNode) + 1), net.nodeDownBps(hostNode) / (net.inFlowCount(hostNode) + 1));
    const rttMs = 2 * latencyMs;
    const windowBytes = restartWindowBytes(this.tcp, shareBps * rttMs / 1000, conn.lastEndMs < 0 ? null : nowMs - conn.lastEndMs);
    const lossMs = slowStartLossMs(sizeBytes, shareBps, rttMs, windowBytes);
    conn.warmAtMs = nowMs + lossMs;
    return lossMs;
  }

  /** A flow that `flowStarting` counted ended (delivered, cancelled or cut). */
  flowEnded(nowMs: number, hostNode: number, sourceNode: number): void {
    const conn = this.connection(hostNode, sourceNode, nowMs);
    conn.active = Math.max(0, conn.active - 1);
    conn.lastEndMs = nowMs;
  }

  /** The pair's connection; a new one is ready at `openAtMs`. */
  private connection(hostNode: number, sourceNode: number, openAtMs: number): Connection {
    const key = this.key(hostNode, sourceNode);
    let conn = this.byPair.get(key);
    if (!conn) {
      conn = { openAtMs, active: 0, lastEndMs: -1, warmAtMs: 0 };
      this.byPair.set(key, conn);
    }
    return conn;
  }

  private key(hostNode: number, sourceNode: number): number {
    return hostNode * this.network.nodeCount + sourceNode;
  }
}

/**
 * The window a cold connection starts from: the initial window when it is new (`idleMs` null);
 * after `idleMs` idle, the window that filled its path (`pipeBytes`) halved once per
 * `restartAfterIdleMs`, never below the initial window (Linux's tcp_cwnd_restart).
 */
export function restartWindowBytes(tcp: TcpModel, pipeBytes: number, idleMs: number | null): number {
  if (idleMs === null || tcp.restartAfterIdleMs <= 0) return tcp.initialWindowBytes;
  return Math.max(tcp.initialWindowBytes, pipeBytes / 2 ** Math.floor(idleMs / tcp.restartAfterIdleMs));
}

/**
 * Time slow start loses against a flow at `rateBps` from its first byte: it sends `windowBytes`,
 * then twice that, ... one window per round trip, until a window holds a round trip of the rate
 * (or the flow's bytes are all sent). Round k carries windowBytes * 2^(k-1).
 */
export function slowStartLossMs(sizeBytes: number, rateBps: number, rttMs: number, windowBytes: number): number {
  if (!(rateBps > 0) || rttMs <= 0 || windowBytes <= 0 || sizeBytes <= 0) return 0;
  const pipeBytes = rateBps * rttMs / 1000;
  if (pipeBytes <= windowBytes) return 0;
  const roundsToOpen = Math.ceil(Math.log2(pipeBytes / windowBytes));
  const sentWhileOpening = windowBytes * (2 ** roundsToOpen - 1);
  if (sizeBytes <= sentWhileOpening) {
    const rounds = Math.ceil(Math.log2(sizeBytes / windowBytes + 1));
    return Math.max(0, rounds * rttMs - sizeBytes / rateBps * 1000);
  }
  return Math.max(0, roundsToOpen * rttMs - sentWhileOpening / rateBps * 1000);
}
