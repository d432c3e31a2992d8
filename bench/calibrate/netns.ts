/**
 * The `--shape netns` testbed: one Linux network namespace per node (origin, each supernode, each
 * host) plus one "switch" namespace that holds every bridge, link and delay line, so nothing of
 * the testbed ever appears in the root namespace and deleting the namespaces removes all of it.
 *
 *   node ns:   eth0 (address in 10.213.0.0/16)   egress shaped to the node's upload rate
 *                |  veth
 *   switch ns: <node name> port on bridge idc<N>  egress shaped to the node's download rate
 *              idc bridges joined through bridge `wan` by links that add the cross-IDC latency
 *              (tc netem), or through delay-hub.py when the kernel has no sch_netem
 *
 * Rates are htb classes at the scenario's rate (wire bytes: TCP/IP headers come out of it, as on
 * a real link); each class queues at most QUEUE_MS of its rate (a shallow switch buffer) so TCP
 * sees drops, not seconds of bufferbloat. Latency: with netem each access link adds half the
 * scenario's same-IDC latency in each direction (racks are not modelled: every same-IDC pair gets
 * `sameIdcMs`), and the IDC links add the rest of `crossIdcMs`.
 *
 * Names carry the creating process's pid (`sdfcal<pid>-h3`): a later run removes namespaces whose
 * creator is dead (a testbed killed with SIGKILL), and two live runs never touch each other's.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { CommandError, killPids, pidAlive, run, succeeds } from './commands.ts';
import { allNodes, SUBNET_BITS, type TestbedNode, type TestbedPlan } from './plan.ts';
import { readTcpCounters, type NodeTcpCounters } from './tcp-counters.ts';
import type { QueueModel } from '../../sim/scenario.ts';

export const NETNS_PREFIX = 'sdfcal';
const STALE_PATTERN = new RegExp(`^${NETNS_PREFIX}(\\d+)-`);
/** Queue of each shaped link, in ms of its rate (at least MIN_QUEUE_BYTES). */
const QUEUE_MS = 20;
const MIN_QUEUE_BYTES = 128 * 1024;
/**
 * The simulator's model of these FIFO queues (scenario `queues:`, sim/scenario.ts): each flow
 * keeps about one GSO packet (64 KiB, what the kernel hands a veth at once) waiting in them
 * (bench/calibrate/README.md, finding 15). The calibration scenarios carry these values.
 */
export const FIFO_QUEUE_MODEL: Readonly<QueueModel> = Object.freeze({ perFlowBytes: 64 * 1024, limitMs: QUEUE_MS, limitMinBytes: MIN_QUEUE_BYTES });
const DELAY_HUB = join(dirname(fileURLToPath(import.meta.url)), 'delay-hub.py');
const HUB_READY_TIMEOUT_MS = 10_000;
/** SCHED_FIFO priority of the delay line: above every ordinary process, low among real-time ones. */
const HUB_PRIORITY = 10;

export type DelayMode = 'netem' | 'delay-hub' | 'none';

export interface TestbedOptions {
  /** `key=value` sysctls set in every node's namespace (e.g. net.ipv4.tcp_slow_start_after_idle=0). */
  sysctls: string[];
  /**
   * Largest packet, in TCP segments, that a node's TCP may hand its link at once (the kernel's
   * gso_max_segs on both ends of every node's veth); 0 = the kernel's default, up to 64 KiB. A
   * shaped queue takes or drops such a packet whole, where a switch drops frames one by one
   * (bench/calibrate/README.md, finding 13); smaller packets cost the testbed's CPU more.
   */
  gsoMaxSegs: number;
  /** How each shaped link queues (`--queues`): one FIFO, or small packets ahead of the data. */
  queues: QueueMode;
}

/**
 * `fifo`: every shaped link one byte-limited queue, as a plain switch port. `small-first`: packets
 * under SMALL_PACKET_BYTES (ACKs, piece requests, most control messages) in a queue of their own
 * that the link serves first, the rest as before — what a host's fq_codel does for sparse flows,
 * approximated with htb and a u32 filter (this kernel has no fq_codel). `host-small-first`: as a
 * real network of Linux hosts: every node's own uplink small-first (its fq_codel), every switch
 * port (the nodes' downlinks) a FIFO.
 */
export type QueueMode = 'fifo' | 'small-first' | 'host-small-first';
export const QUEUE_MODES: readonly QueueMode[] = ['fifo', 'small-first', 'host-small-first'];
/** How one shaped link queues. */
export type LinkQueue = 'fifo' | 'small-first';

/** The queue of a node's uplink (its own eth0) and of its downlink (its switch port) under `mode`. */
export function linkQueuesOf(mode: QueueMode): { uplink: LinkQueue; downlink: LinkQueue } {
  return { uplink: mode === 'fifo' ? 'fifo' : 'small-first', downlink: mode === 'small-first' ? 'small-first' : 'fifo' };
}
/** IPv4 total length below which `small-first` queues a packet ahead (a full-size segment is 1500 bytes). */
const SMALL_PACKET_BYTES = 1024;

/** What delay-hub.py forwarded, and how late against the delay it was asked for. */
export interface DelayHubStats {
  frames: number;
  bytes: number;
  droppedFrames: number;
  lateMsTotal: number;
  lateMsMax: number;
  framesLateOver5Ms: number;
}

/** Why this machine cannot run the netns testbed, or null when it can. */
export async function netnsUnavailableReason(): Promise<string | null> {
  if (process.getuid?.() !== 0) return 'it needs root (network namespaces and tc)';
  if (!await succeeds(['ip', 'netns', 'list'])) return '`ip netns` does not work here (is iproute2 installed? apt-get install iproute2)';
  if (!await succeeds(['tc', '-V'])) return '`tc` is missing (apt-get install iproute2)';
  return null;
}

/** Remove namespaces left by testbeds whose process died; returns how many were removed. */
export async function removeStaleNamespaces(log: (message: string) => void): Promise<number> {
  const stale = (await listNamespaces()).filter((name) => {
    const match = STALE_PATTERN.exec(name);
    return match !== null && Number(match[1]) !== process.pid && !pidAlive(Number(match[1]));
  });
  if (stale.length === 0) return 0;
  log(`removing ${stale.length} network namespace(s) left by a testbed that did not clean up: ${stale.join(' ')}`);
  for (const name of stale) await deleteNamespace(name);
  return stale.length;
}

/** Every namespace of ours (any run), for tests that check nothing is left behind. */
export async function testbedNamespaces(): Promise<string[]> {
  return (await listNamespaces()).filter((name) => STALE_PATTERN.test(name));
}

async function listNamespaces(): Promise<string[]> {
  const text = await run(['ip', 'netns', 'list']);
  return text.split('\n').map((line) => line.trim().split(/\s+/)[0]).filter((name) => name !== undefined && name !== '');
}

async function deleteNamespace(name: string): Promise<void> {
  const pids = (await run(['ip', 'netns', 'pids', name]).catch(() => '')).split('\n').map(Number).filter((pid) => pid > 0);
  await killPids(pids);
  await run(['ip', 'netns', 'del', name]).catch((err: Error) => {
    if (!/No such file/.test(err.message)) throw err;
  });
}

export class NetnsTestbed {
  readonly prefix = `${NETNS_PREFIX}${process.pid}-`;
  readonly switchNs = `${this.prefix}sw`;
  private readonly created: string[] = [];
  private hub: ChildProcess | null = null;
  delayMode: DelayMode = 'none';
  private tornDown = false;

  private constructor(private readonly plan: TestbedPlan, private readonly log: (message: string) => void,
    private readonly options: TestbedOptions) {}

  /** Build the whole testbed; on any failure, remove what was built and rethrow. */
  static async create(plan: TestbedPlan, log: (message: string) => void, options: Partial<TestbedOptions> = {}): Promise<NetnsTestbed> {
    const testbed = new NetnsTestbed(plan, log, { sysctls: [], gsoMaxSegs: 0, queues: 'fifo', ...options });
    try {
      await testbed.build();
    } catch (err) {
      await testbed.teardown();
      throw err;
    }
    return testbed;
  }

  nsOf(node: TestbedNode): string { return `${this.prefix}${node.name}`; }

  /** argv that runs `argv` inside the node's namespace. */
  wrap(node: TestbedNode, argv: string[]): string[] { return ['ip', 'netns', 'exec', this.nsOf(node), ...argv]; }

  /** The delay hub's counters so far (null without a hub). */
  async delayHubStats(): Promise<DelayHubStats | null> {
    const hub = this.hub;
    if (!hub || hub.exitCode !== null) return null;
    const line = new Promise<string>((resolve) => createInterface({ input: hub.stdout! }).once('line', resolve));
    hub.stdin!.write('stats\n');
    const answer = await Promise.race([line, new Promise<null>((resolve) => setTimeout(() => resolve(null), 2000))]);
    return answer === null ? null : JSON.parse(answer) as DelayHubStats;
  }

  /** Every node's TCP and queue counters now (tcp-counters.ts). */
  async tcpCounters(): Promise<NodeTcpCounters> {
    const nodes = allNodes(this.plan);
    const counters = await Promise.all(nodes.map((node) => readTcpCounters(this.nsOf(node), this.switchNs, node)));
    return new Map(nodes.map((node, i) => [node, counters[i]]));
  }

  /** Kill every process in every namespace of this testbed, then delete the namespaces. */
  async teardown(): Promise<void> {
    if (this.tornDown) return;
    this.tornDown = true;
    this.hub?.stdin?.end();
    for (const name of [...this.created].reverse()) await deleteNamespace(name);
    this.created.length = 0;
  }

  private async build(): Promise<void> {
    const { scenario } = this.plan;
    await this.addNamespace(this.switchNs);
    const netem = await succeeds(['tc', '-n', this.switchNs, 'qdisc', 'add', 'dev', 'lo', 'root', 'netem', 'delay', '1ms']);
    if (netem) await run(['tc', '-n', this.switchNs, 'qdisc', 'del', 'dev', 'lo', 'root']);
    const idcs = scenario.topology.idcs;
    for (let idc = 0; idc < idcs; idc++) await this.ip(this.switchNs, 'link', 'add', `idc${idc}`, 'type', 'bridge');
    for (let idc = 0; idc < idcs; idc++) await this.ip(this.switchNs, 'link', 'set', `idc${idc}`, 'up');
    const { sameIdcMs, crossIdcMs } = scenario.topology;
    const accessDelayMs = netem ? sameIdcMs / 2 : 0;
    if (idcs > 1) await this.joinIdcs(idcs, netem, netem ? crossIdcMs - sameIdcMs : crossIdcMs);
    else this.delayMode = netem ? 'netem' : 'none';
    if (!netem && sameIdcMs > 0) {
      this.log(`this kernel has no sch_netem: the scenario's same-IDC latency (${sameIdcMs} ms) is not added; veth and bridge add about 0.05 ms`);
    }
    for (const node of allNodes(this.plan)) await this.addNode(node, netem, accessDelayMs);
  }

  private async addNode(node: TestbedNode, netem: boolean, delayMs: number): Promise<void> {
    const ns = this.nsOf(node);
    await this.addNamespace(ns);
    await this.ip(ns, 'link', 'set', 'lo', 'up');
    await this.ip(this.switchNs, 'link', 'add', node.name, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
    await this.ip(this.switchNs, 'link', 'set', node.name, 'master', `idc${node.idc}`, 'up');
    await this.ip(ns, 'addr', 'add', `${node.address}/${SUBNET_BITS}`, 'dev', 'eth0');
    await this.ip(ns, 'link', 'set', 'eth0', 'up');
    if (this.options.gsoMaxSegs > 0) {
      await this.ip(this.switchNs, 'link', 'set', 'dev', node.name, 'gso_max_segs', String(this.options.gsoMaxSegs));
      await this.ip(ns, 'link', 'set', 'dev', 'eth0', 'gso_max_segs', String(this.options.gsoMaxSegs));
    }
    for (const setting of this.options.sysctls) await run(['ip', 'netns', 'exec', ns, 'sysctl', '-q', '-w', setting]);
    const { uplink, downlink } = linkQueuesOf(this.options.queues);
    await shapeLink(ns, 'eth0', node.upBytesPerSec, netem ? delayMs : 0, uplink);
    await shapeLink(this.switchNs, node.name, node.downBytesPerSec, netem ? delayMs : 0, downlink);
  }

  /** Star of IDC bridges around bridge `wan`, each arm adding half of `delayMs` per direction; or the delay hub. */
  private async joinIdcs(idcs: number, netem: boolean, delayMs: number): Promise<void> {
    if (netem) {
      this.delayMode = 'netem';
      await this.ip(this.switchNs, 'link', 'add', 'wan', 'type', 'bridge');
      await this.ip(this.switchNs, 'link', 'set', 'wan', 'up');
      for (let idc = 0; idc < idcs; idc++) {
        await this.ip(this.switchNs, 'link', 'add', `wi${idc}`, 'type', 'veth', 'peer', 'name', `wo${idc}`);
        await this.ip(this.switchNs, 'link', 'set', `wi${idc}`, 'master', `idc${idc}`, 'up');
        await this.ip(this.switchNs, 'link', 'set', `wo${idc}`, 'master', 'wan', 'up');
        for (const dev of [`wi${idc}`, `wo${idc}`]) {
          await run(['tc', '-n', this.switchNs, 'qdisc', 'add', 'dev', dev, 'root', 'netem', 'delay', `${delayMs / 2}ms`, 'limit', '100000']);
        }
      }
      return;
    }
    if (!await succeeds(['python3', '--version'])) {
      throw new Error('this kernel has no sch_netem and python3 is missing: the cross-IDC latency needs one of them; '
        + 'install python3 (apt-get install python3) or run on a kernel with sch_netem');
    }
    this.delayMode = 'delay-hub';
    const taps = Array.from({ length: idcs }, (_, idc) => `tap${idc}`);
    await this.startHub(delayMs, taps);
    for (let idc = 0; idc < idcs; idc++) await this.ip(this.switchNs, 'link', 'set', taps[idc], 'master', `idc${idc}`, 'up');
  }

  /**
   * netem delays packets in the kernel, ahead of every process; the hub is a process, so it runs
   * as a real-time task (SCHED_FIFO) where `chrt` exists, or frames leave late whenever the
   * machine is busy (its lateness is reported either way: delayHubStats).
   */
  private async startHub(delayMs: number, taps: string[]): Promise<void> {
    const realtime = await succeeds(['chrt', '--fifo', String(HUB_PRIORITY), 'true']) ? ['chrt', '--fifo', String(HUB_PRIORITY)] : [];
    if (realtime.length === 0) this.log('cannot run the delay line as a real-time task (chrt); its frames may leave late on a busy machine');
    const argv = ['netns', 'exec', this.switchNs, ...realtime, 'python3', DELAY_HUB, '--delay-ms', String(delayMs), ...taps];
    const hub = spawn('ip', argv, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.hub = hub;
    let stderr = '';
    hub.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    const ready = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), HUB_READY_TIMEOUT_MS);
      createInterface({ input: hub.stdout! }).once('line', (line) => { clearTimeout(timer); resolve(line === 'ready'); });
      hub.once('exit', () => { clearTimeout(timer); resolve(false); });
    });
    if (!ready) throw new Error(`the cross-IDC delay line (delay-hub.py) did not start: ${stderr.trim() || 'no output'}`);
  }

  private async addNamespace(name: string): Promise<void> {
    await run(['ip', 'netns', 'add', name]);
    this.created.push(name);
  }

  private ip(ns: string, ...args: string[]): Promise<string> {
    return run(['ip', '-n', ns, ...args]);
  }
}

/**
 * htb at the rate; netem (delay) or a byte-limited fifo as its queue; with `small-first`, two such
 * queues under it, small packets' served first (each may use the whole rate; the data's is
 * guaranteed 90 % of it, so small packets cannot starve it).
 */
async function shapeLink(ns: string, dev: string, rateBytesPerSec: number, delayMs: number, queues: LinkQueue): Promise<void> {
  const bits = (share: number): string => `${Math.round(rateBytesPerSec * 8 * share)}bit`;
  const queueBytes = Math.max(MIN_QUEUE_BYTES, Math.round(rateBytesPerSec * QUEUE_MS / 1000));
  const tc = (...args: string[]): Promise<string> => run(['tc', '-n', ns, ...args]);
  const leaf = async (classId: string, handle: string): Promise<void> => {
    if (delayMs > 0) {
      // netem's limit counts packets and also holds the ones in flight for the delay.
      const packets = Math.ceil((queueBytes + rateBytesPerSec * delayMs / 1000) / 1500) + 100;
      await tc('qdisc', 'add', 'dev', dev, 'parent', classId, 'handle', handle, 'netem', 'delay', `${delayMs}ms`, 'limit', String(packets));
    } else {
      await tc('qdisc', 'add', 'dev', dev, 'parent', classId, 'handle', handle, 'bfifo', 'limit', String(queueBytes));
    }
  };
  try {
    const smallFirst = queues === 'small-first';
    await tc('qdisc', 'add', 'dev', dev, 'root', 'handle', '1:', 'htb', 'default', smallFirst ? '3' : '1');
    await tc('class', 'add', 'dev', dev, 'parent', '1:', 'classid', '1:1', 'htb', 'rate', bits(1), 'ceil', bits(1), 'quantum', '60000');
    if (!smallFirst) return await leaf('1:1', '10:');
    await tc('class', 'add', 'dev', dev, 'parent', '1:1', 'classid', '1:2', 'htb', 'rate', bits(0.1), 'ceil', bits(1), 'prio', '0', 'quantum', '60000');
    await tc('class', 'add', 'dev', dev, 'parent', '1:1', 'classid', '1:3', 'htb', 'rate', bits(0.9), 'ceil', bits(1), 'prio', '1', 'quantum', '60000');
    await leaf('1:2', '20:');
    await leaf('1:3', '30:');
    // IPv4 total length (bytes 2-3 of the header) below SMALL_PACKET_BYTES, a power of two: its high bits are 0.
    const mask = `0x${(0x10000 - SMALL_PACKET_BYTES).toString(16)}`;
    await tc('filter', 'add', 'dev', dev, 'parent', '1:', 'protocol', 'ip', 'prio', '1', 'u32', 'match', 'u16', '0x0000', mask, 'at', '2', 'flowid', '1:2');
  } catch (err) {
    if (err instanceof CommandError) throw new Error(`cannot shape ${dev} in ${ns} to ${bits(1)}/s: ${err.message}`);
    throw err;
  }
}
