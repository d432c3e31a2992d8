/**
 * The chaos campaign's live part, short: two rounds on 127.0.0.1 — a supernode killed with
 * kill -9 mid-swarm and restarted on its home, and a peer that serves corrupt bytes — each with
 * every output's hash checked, no hang and no process left behind (found by pid).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runLiveRounds } from '../../bench/chaos/live-campaign.ts';
import { LIVE_FAULTS } from '../../bench/chaos/live-faults.ts';
import { removeDir, tempDir } from '../../bench/testbed/processes.ts';

const kindIndex = (kind: string): number => LIVE_FAULTS.findIndex(([name]) => name === kind);

for (const kind of ['kill -9 supernode', 'peer serving corrupt bytes']) {
  test(`live chaos round "${kind}": every output verified, no hang, no leaked process`, async () => {
    const workDir = tempDir('chaos-live');
    try {
      const [r] = await runLiveRounds({ rounds: 1, firstRound: kindIndex(kind), seed: 'test', deadlineMs: 180_000, workDir, log: () => undefined });
      const detail = r.notes.join('\n');
      assert.is(r.kind, kind);
      assert.ok(Object.values(r.faults).reduce((a, b) => a + b, 0) > 0, 'the fault was injected');
      assert.is(r.downloads, 8);
      assert.is(r.corruptOutputs, 0, detail);
      assert.is(r.failedDownloads, 0, detail);
      assert.is(r.hung, false, detail);
      assert.is(r.leaked, 0, detail);
    } finally {
      removeDir(workDir);
    }
  });
}

test.run();
