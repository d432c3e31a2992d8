/**
 * Preheat jobs (core/preheat.ts): exact effects for submitting, resolving an image, progress from
 * the supernode's updates, the fetch limit, failures, timeouts and the bounds on the table.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { applyAndDrain } from '../../core/drive.ts';
import { PreheatJobs, type PreheatConfig, type PreheatEffect, type PreheatFile, type PreheatInput } from '../../core/preheat.ts';
import type { PreheatUpdate } from '../../core/supernode-io.ts';

/** When the views are read (after every input of these tests). */
const NOW = 1000;
const task = (n: number) => `${n}`.padStart(64, '0');
const file = (n: number): PreheatFile => ({ taskId: task(n), task: { url: `http://origin.test/${n}`, headers: {} }, label: `f${n}` });
const update = (n: number, state: PreheatUpdate['state'], bytesDone: number, totalBytes: number | null, reason?: string): PreheatInput =>
  ({ kind: 'task-update', update: { kind: 'preheat-update', taskId: task(n), state, bytesDone, totalBytes, ...(reason ? { reason } : {}) } });

function jobs(cfg: Partial<PreheatConfig> = {}) {
  const machine = new PreheatJobs(cfg);
  const feed = (nowMs: number, input: PreheatInput): PreheatEffect[] => {
    const out: PreheatEffect[] = [];
    applyAndDrain(machine, nowMs, input, (e) => out.push(e));
    return out.filter((e) => e.kind !== 'log');
  };
  return { machine, feed };
}

test('a file job starts its fetch, shows progress from the supernode and succeeds when the file is ready', () => {
  const { machine, feed } = jobs();
  assert.equal(feed(0, { kind: 'submit', jobId: 'j1', label: 'http://origin.test/1', files: [file(1)] }), [
    { kind: 'accepted', jobId: 'j1' },
    { kind: 'preheat', taskId: task(1), task: file(1).task },
  ]);
  feed(5, update(1, 'fetching', 4, 10));
  assert.equal(machine.view('j1', 5), {
    id: 'j1', label: 'http://origin.test/1', state: 'running', elapsedMs: 5, filesDone: 0,
    files: [{ label: 'f1', taskId: task(1), state: 'fetching', bytesDone: 4, totalBytes: 10 }], bytesDone: 4, totalBytes: 10,
  });
  feed(9, update(1, 'ready', 10, 10));
  const done = machine.view('j1', NOW)!;
  assert.is(done.state, 'succeeded');
  assert.is(done.filesDone, 1);
  assert.is(done.elapsedMs, 9);
  assert.is(done.bytesDone, 10);
  assert.is(machine.view('nope', NOW), null);
});

test('an image job resolves first; at most maxFilesFetching fetch at once, the rest start as others end', () => {
  const { machine, feed } = jobs({ maxFilesFetching: 2 });
  assert.equal(feed(0, { kind: 'submit', jobId: 'img', label: 'r/app:v1', files: null }), [
    { kind: 'accepted', jobId: 'img' },
    { kind: 'resolve-image', jobId: 'img' },
  ]);
  assert.is(machine.view('img', NOW)!.state, 'resolving');
  assert.is(machine.view('img', NOW)!.totalBytes, null);
  assert.equal(feed(1, { kind: 'image-resolved', jobId: 'img', files: [file(1), file(2), file(2), file(3)] }), [
    { kind: 'preheat', taskId: task(1), task: file(1).task },
    { kind: 'preheat', taskId: task(2), task: file(2).task },
  ]);
  assert.is(machine.view('img', NOW)!.files.length, 3, 'a blob two manifests share is one file');
  assert.equal(feed(2, update(2, 'ready', 7, 7)), [{ kind: 'preheat', taskId: task(3), task: file(3).task }]);
  feed(3, update(3, 'ready', 5, 5));
  assert.is(machine.view('img', NOW)!.state, 'running');
  feed(4, update(1, 'ready', 3, 3));
  const view = machine.view('img', NOW)!;
  assert.is(view.state, 'succeeded');
  assert.is(view.totalBytes, 15);
});

test('a failed file fails the job once the others ended; an unreadable image fails at once', () => {
  const { machine, feed } = jobs();
  feed(0, { kind: 'submit', jobId: 'j', label: 'two', files: [file(1), file(2)] });
  feed(1, update(1, 'failed', 0, null, 'source answered 404 Not Found'));
  assert.is(machine.view('j', NOW)!.state, 'running');
  feed(2, update(2, 'ready', 1, 1));
  assert.is(machine.view('j', NOW)!.state, 'failed');
  assert.is(machine.view('j', NOW)!.error, '1 of 2 files failed; first f1: source answered 404 Not Found');
  feed(3, { kind: 'submit', jobId: 'img', label: 'r/app:v1', files: null });
  feed(4, { kind: 'image-failed', jobId: 'img', reason: 'registry answered 404 to the manifest' });
  assert.is(machine.view('img', NOW)!.error, 'cannot read the image: registry answered 404 to the manifest');
  assert.equal(feed(5, { kind: 'image-resolved', jobId: 'img', files: [file(3)] }), [], 'a late answer changes nothing');
});

test('a file two jobs share is fetched once and counts for both', () => {
  const { machine, feed } = jobs();
  feed(0, { kind: 'submit', jobId: 'a', label: 'a', files: [file(1)] });
  assert.equal(feed(1, { kind: 'submit', jobId: 'b', label: 'b', files: [file(1)] }), [{ kind: 'accepted', jobId: 'b' }]);
  feed(2, update(1, 'ready', 2, 2));
  assert.is(machine.view('a', NOW)!.state, 'succeeded');
  assert.is(machine.view('b', NOW)!.state, 'succeeded');
});

test('bounds: active jobs, kept jobs (oldest finished pushed out), files per job, duplicate ids', () => {
  const { machine, feed } = jobs({ maxActiveJobs: 1, maxJobs: 2, maxFilesPerJob: 2 });
  feed(0, { kind: 'submit', jobId: 'a', label: 'a', files: [file(1)] });
  assert.equal(feed(1, { kind: 'submit', jobId: 'b', label: 'b', files: [file(2)] }), [
    { kind: 'refused', jobId: 'b', reason: '1 preheat jobs are running, the limit; try again when one has finished' },
  ]);
  feed(2, update(1, 'ready', 1, 1));
  assert.equal(feed(3, { kind: 'submit', jobId: 'a', label: 'a', files: [file(1)] }), [{ kind: 'refused', jobId: 'a', reason: 'job id a is taken' }]);
  feed(4, { kind: 'submit', jobId: 'c', label: 'c', files: [file(1), file(2), file(3)] });
  assert.is(machine.view('c', NOW)!.error, '3 files to preheat; a job takes at most 2');
  feed(5, { kind: 'submit', jobId: 'd', label: 'd', files: [] });
  assert.is(machine.view('a', NOW), null, 'the oldest finished job made room');
  assert.is(machine.view('d', NOW)!.state, 'succeeded', 'nothing to fetch is done');
});

test('a job past its timeout fails and frees its fetch slot; finished jobs are forgotten after retainMs', () => {
  const { machine, feed } = jobs({ jobTimeoutMs: 100, retainMs: 50, maxFilesFetching: 1 });
  feed(0, { kind: 'submit', jobId: 'slow', label: 'slow', files: [file(1)] });
  feed(10, { kind: 'submit', jobId: 'next', label: 'next', files: [file(2)] });
  assert.is(machine.nextDeadlineMs(), 100);
  assert.equal(feed(100, { kind: 'timeout' }), [{ kind: 'preheat', taskId: task(2), task: file(2).task }]);
  assert.is(machine.view('slow', NOW)!.error, 'did not finish within 100 ms');
  assert.is(machine.view('slow', NOW)!.files[0].state, 'failed');
  assert.is(machine.nextDeadlineMs(), 110);
  feed(110, { kind: 'timeout' });
  assert.is(machine.view('next', NOW)!.state, 'failed');
  feed(160, { kind: 'timeout' });
  assert.is(machine.view('slow', NOW), null);
  assert.is(machine.view('next', NOW), null);
  assert.is(machine.nextDeadlineMs(), null);
});

test.run();
