import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Network } from '../../../../sim/network.ts';
import { Connections, slowStartLossMs } from '../../../../sim/strategies/dragonfly/connections.ts';
import { applyOverrides } from '../../../../sim/overrides.ts';
import { LINUX_TCP as LINUX, loadScenario, parseScenario } from '../../../../sim/scenario.ts';
import { capacityChecker, run, smallScenario } from '../../../helpers/sim-run.ts';

const LINUX_TCP = { connectRoundTrips: 2, initialWindowBytes: 14480, restartAfterIdleMs: 200 };

test('slowStartLossMs: rounds until a window holds the pipe, less what they carried', () => {
  // 50 Mbit/s of payload over a 40 ms round trip: a 239 KB pipe, open after 5 rounds (14480 x 2^5 > 239 KB),
  // which carried 14480 x 31 bytes: 200 ms spent, 75 ms of bytes at the full rate.
  const rateBps = 5_977_500;
  const loss = slowStartLossMs(4 * 1048576, rateBps, 40, 14480);
  assert.ok(Math.abs(loss - (200 - (14480 * 31) / rateBps * 1000)) < 1e-9, String(loss));
  assert.ok(loss > 120 && loss < 130);
  // Inside an IDC (1 ms) the first window already holds the pipe.
  assert.is(slowStartLossMs(4 * 1048576, rateBps, 1, 14480), 0);
  // A piece smaller than what slow start sends ends inside it: 20 KB takes 2 rounds.
  assert.ok(Math.abs(slowStartLossMs(20_000, rateBps, 40, 14480) - (80 - 20_000 / rateBps * 1000)) < 1e-9);
  // Nothing to lose without a window, a round trip or bytes.
  assert.is(slowStartLossMs(4 * 1048576, rateBps, 40, 0), 0);
  assert.is(slowStartLossMs(4 * 1048576, rateBps, 0, 14480), 0);
  assert.is(slowStartLossMs(0, rateBps, 40, 14480), 0);
  // A slower share fills a smaller pipe sooner: it loses less.
  assert.ok(slowStartLossMs(4 * 1048576, rateBps / 4, 40, 14480) < loss);
});

test('tcp: parsed with ideal defaults, checked field by field', () => {
  const base = { fileSize: '1MiB', hosts: { count: 1 } };
  assert.equal(parseScenario(base).tcp, { connectRoundTrips: 0, initialWindowBytes: 0, restartAfterIdleMs: 0 });
  assert.equal(parseScenario({ ...base, tcp: LINUX_TCP }).tcp, LINUX_TCP);
  assert.is(parseScenario({ ...base, tcp: { initialWindowBytes: '16KiB' } }).tcp.initialWindowBytes, 16384);
  assert.throws(() => parseScenario({ ...base, tcp: { window: 1 } }), /tcp\.window/);
  assert.throws(() => parseScenario({ ...base, tcp: { connectRoundTrips: -1 } }), /tcp\.connectRoundTrips/);
  assert.throws(() => parseScenario({ ...base, tcp: { restartAfterIdleMs: 'soon' } }), /tcp\.restartAfterIdleMs/);
  // dfsim --tcp names a model; it replaces the scenario's block.
  assert.equal(LINUX, LINUX_TCP);
  assert.equal(applyOverrides(parseScenario(base), { tcp: 'linux' }, {}).tcp, LINUX_TCP);
  assert.equal(applyOverrides(parseScenario({ ...base, tcp: LINUX_TCP }), { tcp: 'ideal' }, {}).tcp, parseScenario(base).tcp);
  assert.throws(() => applyOverrides(parseScenario(base), { tcp: 'reno' }, {}), /--tcp: expected ideal or linux, got "reno"/);
  assert.throws(() => applyOverrides(parseScenario(base), { tcp: 'toString' }, {}), /--tcp: expected ideal or linux/);
});

test('Connections: opening once per pair, slow start when new, half the window per idle timeout, none when warm', () => {
  const network = new Network(() => {});
  const host = network.addNode(6_250_000, 6_250_000);
  const source = network.addNode(6_250_000, 6_250_000);
  const other = network.addNode(6_250_000, 6_250_000);
  const conns = new Connections(LINUX_TCP, network);
  const piece = 4 * 1048576;
  // A new pair: two 40 ms round trips, then the request's own latency; a second fetch meanwhile waits for the same connection.
  assert.is(conns.requestDelayMs(0, host, source, 20), 2 * 40 + 20);
  assert.is(conns.requestDelayMs(30, host, source, 20), 2 * 40 - 30 + 20);
  assert.is(conns.requestDelayMs(200, host, source, 20), 20);
  const cold = slowStartLossMs(piece, 6_250_000, 40, 14480);
  assert.is(conns.flowStarting(200, host, source, piece, 20), cold);
  // A flow joining while the window opens waits for the same moment; then the connection is warm.
  assert.is(conns.flowStarting(250, host, source, piece, 20), 200 + cold - 250);
  conns.flowEnded(1000, host, source);
  conns.flowEnded(1000, host, source);
  assert.is(conns.flowStarting(1100, host, source, piece, 20), 0, 'idle under the timeout: warm');
  assert.is(conns.flowStarting(1200, host, source, piece, 20), 0, 'a flow still running keeps it warm');
  conns.flowEnded(2000, host, source);
  conns.flowEnded(2000, host, source);
  // Idle one timeout: the window halves (one round trip to regrow), less than a new connection's loss.
  const once = conns.flowStarting(2250, host, source, piece, 20);
  assert.ok(once > 0 && once < cold, `${once} vs ${cold}`);
  assert.is(once, slowStartLossMs(piece, 6_250_000, 40, 6_250_000 * 0.04 / 2));
  conns.flowEnded(3000, host, source);
  // Idle long enough, it is back to the initial window: a new connection's loss.
  assert.is(conns.flowStarting(3000 + 10 * 200, host, source, piece, 20), cold);
  // Pairs are separate: another source is a new connection.
  assert.is(conns.requestDelayMs(5000, host, other, 20), 2 * 40 + 20);
});

// One host in IDC 1 fetching from the supernode in IDC 0, 20 ms each way: every piece crosses.
const crossing = {
  fileSize: '16MiB', hosts: { count: 1, up: '50Mbit', down: '50Mbit' }, origin: { up: '1Gbit', idc: 0 },
  supernodes: { up: '1Gbit', idc: 0 }, topology: { idcs: 2, racksPerIdc: 1, crossIdcMs: 20 }, core: { pieceSizeBytes: '4MiB' },
};

test('across IDCs a new connection costs its opening round trips and slow start; a warm one nothing more', () => {
  // Host 0 is dealt to IDC 0 round-robin; put the servers in IDC 1 instead so that it crosses.
  const doc = { ...crossing, origin: { ...crossing.origin, idc: 1 }, supernodes: { ...crossing.supernodes, idc: 1 } };
  const ideal = run(smallScenario(doc), 'dragonfly', capacityChecker);
  const real = run(smallScenario({ ...doc, tcp: LINUX_TCP }), 'dragonfly', capacityChecker);
  assert.is(real.completedHosts, 1);
  const extraMs = real.completionMs.max - ideal.completionMs.max;
  // At least the first piece's: 2 round trips to open, then slow start at the host's 50 Mbit/s (~125 ms).
  const firstPieceMs = 2 * 40 + slowStartLossMs(4 * 1048576, 50e6 / 8, 40, 14480);
  assert.ok(extraMs >= firstPieceMs - 1, `${extraMs} ms extra, expected at least ${firstPieceMs}`);
  // At most that plus slow start again for each of the 3 other pieces (after an idle gap of a pull's round trip).
  assert.ok(extraMs <= firstPieceMs + 3 * 130, `${extraMs} ms extra`);
  // Slow start only on new connections: the idle gaps between pieces (under 200 ms) cost nothing more.
  const noRestart = run(smallScenario({ ...doc, tcp: { ...LINUX_TCP, restartAfterIdleMs: 0 } }), 'dragonfly');
  assert.ok(noRestart.completionMs.max <= real.completionMs.max + 1e-6);
});

test('inside an IDC the model costs a piece next to nothing, and a run with it stays deterministic', () => {
  const doc = { fileSize: '32MiB', hosts: { count: 8, up: '100Mbit', down: '100Mbit' }, origin: { up: '100Mbit' }, core: { pieceSizeBytes: '1MiB' } };
  const ideal = run(smallScenario(doc), 'dragonfly');
  const real = run(smallScenario({ ...doc, tcp: LINUX_TCP }), 'dragonfly', capacityChecker);
  assert.is(real.completedHosts, 8);
  assert.is(real.originEgressBytes, ideal.originEgressBytes);
  // 1 ms round trips: each new connection's 2 ms of opening, a handful of them on any host's path.
  assert.ok(Math.abs(real.completionMs.max - ideal.completionMs.max) < 0.05 * ideal.completionMs.max,
    `${real.completionMs.max} vs ${ideal.completionMs.max}`);
  assert.equal(run(smallScenario({ ...doc, tcp: LINUX_TCP }), 'dragonfly').completionMs, real.completionMs);
});

test('two IDCs with the model: every host completes within capacity, the same origin bytes, and later than ideal', () => {
  const doc = {
    fileSize: '32MiB', hosts: { count: 12, up: '50Mbit', down: '50Mbit' }, origin: { up: '50Mbit' }, supernodes: { up: '100Mbit' },
    topology: { idcs: 2, racksPerIdc: 1, crossIdcMs: 20 }, core: { pieceSizeBytes: '2MiB' },
  };
  const ideal = run(smallScenario(doc), 'dragonfly');
  const real = run(smallScenario({ ...doc, tcp: LINUX_TCP }), 'dragonfly', capacityChecker);
  assert.is(real.completedHosts, 12);
  assert.is(real.originEgressBytes, ideal.originEgressBytes);
  assert.ok(real.completionMs.p50 > ideal.completionMs.p50, `${real.completionMs.p50} vs ${ideal.completionMs.p50}`);
});

test('faults with the model on: crashes, cut flows and cancelled fetches close their connections; every survivor completes', () => {
  const scenario = { ...loadScenario('faults'), tcp: { ...LINUX_TCP } };
  for (const strategy of ['dragonfly', 'cdn-only'] as const) {
    const result = run(scenario, strategy, capacityChecker);
    assert.is(result.unfinishedHosts + result.failedHosts, 0, `${strategy}: ${result.unfinishedHosts} unfinished, ${result.failedHosts} failed`);
    assert.is(result.completedHosts + result.crashedHosts, scenario.hostCount, strategy);
    assert.is(result.fault, null, strategy);
    assert.ok(Math.abs(result.totalSentBytes - result.totalReceivedBytes) <= 1e-9 * result.totalSentBytes, `${strategy}: bytes conserved`);
  }
});

test.run();
