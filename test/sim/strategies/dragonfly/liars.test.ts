/**
 * Lying peers in the simulator (scenario fault `lying-peer`): hosts whose reports call every fetch
 * from a peer a failure, after one true success to look credible. They run through the same core
 * Blacklists as production, so no honest host may end on the global blacklist, while a corrupt
 * uploader still does; every host finishes.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { failureReport } from '../../../../sim/checks.ts';
import { hostId } from '../../../../sim/strategies/dragonfly/control.ts';
import { TASK_ID } from '../../../../sim/strategies/dragonfly/task.ts';
import { runDragonflyOpen, smallScenario } from '../../../helpers/sim-run.ts';

const SEEDS = Number(process.env.LIAR_SEEDS ?? 6);

test(`lying peers blacklist no honest host; a corrupt uploader is still caught (${SEEDS} seeds)`, () => {
  const problems: string[] = [];
  let corruptCaught = 0;
  for (let seed = 1; seed <= SEEDS; seed++) {
    const scenario = smallScenario({
      seed, fileSize: '32MiB', hosts: { count: 24, up: '1Gbit', down: '1Gbit' },
      arrival: { pattern: 'staggered', intervalMs: 20 },
      // A threshold of 2 distinct accusers: under a rule that took reporters at their word, 6 liars
      // would blacklist most of the swarm.
      core: { pieceSizeBytes: '1MiB', globalBlacklistThreshold: 2, pieceTimeoutMs: 10_000 },
      faults: [{ kind: 'lying-peer', count: 6 }, { kind: 'corrupt-uploader', count: 1 }],
    });
    const { run, result } = runDragonflyOpen(scenario);
    problems.push(...failureReport(result, `LIAR_SEEDS=${seed} node --import tsx test/sim/strategies/dragonfly/liars.test.ts`));
    const lists = run.supernodes.machine(0).swarmOf(TASK_ID)!.blacklists;
    run.world.faults.forEach((fault, host) => {
      const index = run.supernodes.machine(0).peerIndex(TASK_ID, hostId(host));
      if (index < 0) return;
      const blacklisted = lists.isGloballyBlacklisted(index);
      if (fault.corrupt) corruptCaught += blacklisted ? 1 : 0;
      else if (!fault.lying && blacklisted) problems.push(`seed ${seed}: honest host ${host} is on the global blacklist`);
    });
  }
  assert.equal(problems, []);
  assert.ok(corruptCaught >= 1, `the corrupt uploader was globally blacklisted in ${corruptCaught} of ${SEEDS} runs`);
});

test.run();
