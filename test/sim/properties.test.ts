import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { STRATEGIES } from '../../sim/strategies/index.ts';
import { checkProperty } from '../helpers/fc-rerun.ts';
import { capacityChecker, run, smallScenario } from '../helpers/sim-run.ts';

const rates = ['20Mbit', '100Mbit', '300Mbit', '1Gbit', '2Gbit'];

const scenarioDoc = fc.record({
  seed: fc.integer({ min: 1, max: 1_000_000 }),
  hosts: fc.integer({ min: 2, max: 50 }),
  fileMiB: fc.integer({ min: 4, max: 40 }),
  up: fc.subarray(rates, { minLength: 1 }),
  down: fc.subarray(rates, { minLength: 1 }),
  originUp: fc.constantFrom('50Mbit', '200Mbit', '1Gbit'),
  supernodeUp: fc.constantFrom('500Mbit', '2Gbit', '10Gbit'),
  arrival: fc.oneof(
    fc.constant({ pattern: 'all-at-once' }),
    fc.record({ pattern: fc.constant('poisson'), ratePerSec: fc.integer({ min: 5, max: 100 }) }),
  ),
  sharing: fc.constantFrom('local', 'max-min'),
  piecesPerPull: fc.integer({ min: 1, max: 6 }),
});

// SIM_RUNS=400 for a longer search (about 4 s).
test('every strategy on random small swarms: never below T_min, bytes conserved, no node over capacity, all hosts done', () => {
  checkProperty(import.meta.url, 'sim-oracles', fc.property(scenarioDoc, fc.constantFrom(...STRATEGIES), (doc, strategy) => {
    const scenario = smallScenario({
      seed: doc.seed, fileSize: `${doc.fileMiB}MiB`,
      hosts: { count: doc.hosts, up: { choice: doc.up.map((value) => ({ value })) }, down: { choice: doc.down.map((value) => ({ value })) } },
      origin: { up: doc.originUp }, supernodes: { up: doc.supernodeUp }, arrival: doc.arrival, sharing: doc.sharing,
      core: { piecesPerPull: doc.piecesPerPull },
    });
    const r = run(scenario, strategy, capacityChecker);
    assert.is(r.completedHosts, doc.hosts, `${strategy}: ${doc.hosts - r.completedHosts} hosts did not finish`);
    assert.ok(r.completionMs.max >= r.lowerBoundMs * (1 - 1e-9), `${strategy} beat the lower bound: ${r.completionMs.max} < ${r.lowerBoundMs}`);
    assert.ok(Math.abs(r.totalSentBytes - r.totalReceivedBytes) <= 1e-9 * r.totalSentBytes, `${strategy}: ${r.totalSentBytes} bytes sent, ${r.totalReceivedBytes} received`);
    for (const h of r.hostResults) assert.ok(h.receivedBytes >= r.fileSizeBytes * (1 - 1e-12), `host ${h.host} finished with ${h.receivedBytes} of ${r.fileSizeBytes} bytes`);
    const hostsReceived = r.hostResults.reduce((s, h) => s + h.receivedBytes, 0);
    assert.ok(r.totalReceivedBytes >= hostsReceived, 'hosts received more than the network delivered');
    assert.is(r.counters.unverifiedWrites ?? 0, 0);
  }), { numRuns: Number(process.env.SIM_RUNS ?? 150) });
});

test.run();
