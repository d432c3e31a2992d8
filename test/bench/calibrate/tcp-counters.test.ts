import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Role } from '../../../bench/calibrate/plan.ts';
import { countersByRole, parseProcNet, parseQdiscStats, tcpCountersTable, type NodeTcpCounters, type TcpCounters } from '../../../bench/calibrate/tcp-counters.ts';

const SNMP = `Ip: Forwarding DefaultTTL InReceives
Ip: 1 64 1200
Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors
Tcp: 1 200 120000 -1 4 2 0 0 3 7214 27794 1291 0 5 0
Udp: InDatagrams NoPorts
Udp: 0 0
TcpExt: SyncookiesSent TCPTimeouts TCPLossProbes
TcpExt: 0 3 13
`;

test('parseProcNet pairs each header line with its value line', () => {
  const tcp = parseProcNet(SNMP, 'Tcp');
  assert.is(tcp.get('OutSegs'), 27794);
  assert.is(tcp.get('RetransSegs'), 1291);
  assert.is(tcp.get('RtoMax'), 120000);
  const ext = parseProcNet(SNMP, 'TcpExt');
  assert.is(ext.get('TCPTimeouts'), 3);
  assert.is(ext.get('TCPLossProbes'), 13);
  assert.is(ext.get('OutSegs'), undefined, 'a protocol\'s names stay its own');
  assert.is(parseProcNet('', 'Tcp').size, 0);
});

test('parseQdiscStats reads the root qdisc of tc -s -j', () => {
  const json = '[{"kind":"htb","handle":"1:","root":true,"bytes":38712345,"drops":85,"packets":25645},'
    + '{"kind":"bfifo","handle":"10:","parent":"1:1","bytes":38710831,"drops":85,"packets":25644}]';
  assert.equal(parseQdiscStats(json), { drops: 85, bytes: 38712345 });
  assert.equal(parseQdiscStats('[{"kind":"noqueue","handle":"0:","parent":"ffff:"}]'), { drops: 0, bytes: 0 });
  assert.throws(() => parseQdiscStats('{}'), /no list/);
});

const counters = (segmentsSent: number, segmentsRetransmitted: number, timeouts = 0): TcpCounters =>
  ({ segmentsSent, segmentsRetransmitted, timeouts, lossProbes: 0, queueDropsUp: timeouts, queueDropsDown: 0, linkBytesUp: 1500 * segmentsSent, linkBytesDown: 100 * segmentsSent });

test('countersByRole subtracts the first reading and sums the hosts', () => {
  const node = (role: Role, name: string): { role: Role; name: string } => ({ role, name });
  const [origin, sn0, h0, h1] = [node('origin', 'origin'), node('supernode', 'sn0'), node('host', 'h0'), node('host', 'h1')];
  const before: NodeTcpCounters = new Map([[origin, counters(100, 0)], [sn0, counters(50, 1)], [h0, counters(10, 0)], [h1, counters(20, 2, 1)]]);
  const after: NodeTcpCounters = new Map([[origin, counters(1100, 5)], [sn0, counters(550, 21)], [h0, counters(110, 10, 2)], [h1, counters(220, 12, 3)]]);
  const rows = countersByRole(before, after);
  assert.equal(rows.map((r) => [r.role, r.nodes]), [['origin', 1], ['sn0', 1], ['hosts', 2]]);
  assert.equal(rows[0], { role: 'origin', nodes: 1, ...counters(1000, 5) });
  assert.equal(rows[2], { role: 'hosts', nodes: 2, ...counters(300, 20, 4) });
  const table = tcpCountersTable(rows)!;
  assert.match(table, /\| 2 hosts \| 300 \| 20 \(6\.7 %\) \| 4 \|/);
  assert.is(tcpCountersTable(null), null);
  assert.is(tcpCountersTable([]), null);
});

test.run();
