import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { linkQueuesOf, QUEUE_MODES } from '../../../bench/calibrate/netns.ts';

test('fifo: every link one queue', () => {
  assert.equal(linkQueuesOf('fifo'), { uplink: 'fifo', downlink: 'fifo' });
});

test('small-first: small packets first on both ends of every node', () => {
  assert.equal(linkQueuesOf('small-first'), { uplink: 'small-first', downlink: 'small-first' });
});

test('host-small-first: a node\'s own uplink lets small packets pass (its fq_codel), its switch port stays a FIFO', () => {
  assert.equal(linkQueuesOf('host-small-first'), { uplink: 'small-first', downlink: 'fifo' });
});

test('the CLI offers every mode', () => {
  assert.equal([...QUEUE_MODES].sort(), ['fifo', 'host-small-first', 'small-first']);
});

test.run();
