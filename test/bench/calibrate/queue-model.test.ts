import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadScenario } from '../../../sim/scenario.ts';
import { FIFO_QUEUE_MODEL } from '../../../bench/calibrate/netns.ts';

test('every testbed scenario models the netns testbed\'s FIFO queues as netns.ts builds them', () => {
  for (const name of ['calibration-homogeneous', 'calibration-mixed', 'calibration-staggered', 'calibration-two-idc', 'calibration-two-idc-fast', 'shaped-16']) {
    assert.equal(loadScenario(name).queues, { ...FIFO_QUEUE_MODEL }, name);
  }
});

test.run();
