/**
 * The perf-script parser of bench/testbed/perf-split.ts: samples go to their process's role, each
 * under the first-listed kind of work on its stack; processes of no role are left out.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { OTHER, SAMPLE_HZ, SampleSplitter, formatSplit } from '../../../bench/testbed/perf-split.ts';

/** Samples behind a figure of CPU-seconds. */
const samples = (seconds: number | undefined): number => Math.round((seconds ?? NaN) * SAMPLE_HZ);

const SCRIPT = `
    0/0     
\tffffffff8225fd65 pvm_safe_halt_hc ([kernel.kallsyms])
\tffffffff82261975 default_idle ([kernel.kallsyms])

100/101 
\tffffffff81bb296d copy_folio_from_iter_atomic ([kernel.kallsyms])
\tffffffff815a0814 generic_perform_write ([kernel.kallsyms])
\tffffffff817cca78 ext4_buffered_write_iter ([kernel.kallsyms])
\t7f00000000 __libc_pwrite (/usr/lib/x86_64-linux-gnu/libc.so.6)

100/100 
\t55000001 sha256_block_data_order_shaext (/usr/bin/node)
\t55000002 node::crypto::Hash::HashUpdate (/usr/bin/node)

100/100 
\tffffffff81000001 pvm_irq_enable ([kernel.kallsyms])
\tffffffff81000002 asm_exc_page_fault ([kernel.kallsyms])
\tffffffff81000003 _copy_to_iter ([kernel.kallsyms])
\tffffffff81000004 tcp_recvmsg_locked ([kernel.kallsyms])
\tffffffff81000005 tcp_recvmsg ([kernel.kallsyms])

200/200 
\t55000003 Builtins_LoadIC (/usr/bin/node)

200/200 
\t55000004 v8::internal::Scavenger::ScavengeObject (/usr/bin/node)
\t55000005 v8::internal::Heap::CollectGarbage (/usr/bin/node)

300/300 
\t55000003 Builtins_LoadIC (/usr/bin/node)
`;

test('samples are filed by role and by the first-listed kind on their stack', () => {
  const split = new SampleSplitter(new Map([['100', 'dfget'], ['200', 'uploader']]));
  for (const line of SCRIPT.split('\n')) split.line(line);
  const [dfget, uploader] = split.result();
  assert.is(dfget.role, 'dfget');
  assert.is(samples(dfget.cpuSeconds), 3, 'three samples of pid 100 (its threads too)');
  assert.is(samples(dfget.byKind.get('page-cache write')), 1);
  assert.is(samples(dfget.byKind.get('SHA-256')), 1);
  assert.is(samples(dfget.byKind.get('TCP receive')), 1, 'TCP receive is listed before page faults, so a fault under tcp_recvmsg counts as receiving');
  assert.is(samples(dfget.byKind.get('page faults')), 0);
  assert.is(uploader.role, 'uploader');
  assert.is(samples(uploader.byKind.get(OTHER)), 1);
  assert.is(samples(uploader.byKind.get('garbage collection')), 1);
  assert.is(split.result().length, 2, 'pid 300 and the idle task have no role');
});

test('the table has a row per role and every kind as a column', () => {
  const split = new SampleSplitter(new Map([['100', 'dfget']]));
  for (const line of SCRIPT.split('\n')) split.line(line);
  const lines = formatSplit(split.result());
  assert.is(lines.length, 2);
  assert.match(lines[0], /SHA-256.*page-cache write.*the rest/);
  assert.match(lines[1], /^dfget\s+0\.0\s+33\.3%\s+33\.3%/);
});

test.run();
