/**
 * The port fuzzer, short: a few hundred generated inputs at each listening port (supernode
 * control and data, an uploader's data port, dfdaemon's HTTP port); every process survives and
 * still serves a real download, and nothing is left running.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runFuzz } from '../../bench/chaos/fuzz-campaign.ts';
import { removeDir, tempDir } from '../../bench/testbed/processes.ts';

const INPUTS = Number(process.env.FUZZ_INPUTS ?? 150);

test(`${INPUTS} fuzz inputs per port: no crash, each port still serves a download, nothing leaked`, async () => {
  const workDir = tempDir('chaos-fuzz');
  try {
    const outcome = await runFuzz({ inputs: INPUTS, seed: 11, workDir, log: () => undefined });
    assert.is(outcome.ports.length, 4);
    for (const p of outcome.ports) {
      assert.is(p.inputs, INPUTS, `${p.port}: every input delivered`);
      assert.is(p.crashed, false, `${p.port} crashed`);
      assert.ok(p.servesAfter, `${p.port} serves no download after fuzzing: ${p.note}`);
    }
    assert.is(outcome.leaked, 0);
  } finally {
    removeDir(workDir);
  }
});

test.run();
