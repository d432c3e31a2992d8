/**
 * One uploader per home dir: concurrent starts leave exactly one running; a lock left by a dead
 * process, or by a live pid whose port does not answer after its boot grace (a reused pid), is
 * taken over; a just-written lock of a booting uploader is respected; an uploader nobody tells of
 * a task (its dfget failed at once) still exits after its idle time and releases the lock; a
 * spawning dfget and its own uploader, taking the child's lock in either order, both own it.
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startUploader, UploaderBusyError, type UploaderHandle } from '../../../transport/uploader/uploader-server.ts';
import { acquireLock, BOOT_GRACE_MS, lockIsLive, lockPath, readLock } from '../../../transport/uploader/uploader-lock.ts';
import { removeDir, tempDir } from '../../../bench/testbed/processes.ts';

const start = (home: string): Promise<UploaderHandle> => startUploader({ homeDir: home, host: '127.0.0.1', port: 0, idleExitMs: 0 });

function writeLock(home: string, lock: object): void {
  mkdirSync(join(home, 'meta'), { recursive: true });
  writeFileSync(lockPath(home), JSON.stringify(lock));
}

/** A pid that is certainly not running: past the kernel's usual pid_max. */
const DEAD_PID = 4_194_304 + 17;

test('four concurrent starts on one home: one uploader wins, the others are told where it is', async () => {
  const home = tempDir('lock-race');
  try {
    const outcomes = await Promise.allSettled([start(home), start(home), start(home), start(home)]);
    const winners = outcomes.filter((o): o is PromiseFulfilledResult<UploaderHandle> => o.status === 'fulfilled').map((o) => o.value);
    assert.is(winners.length, 1);
    for (const o of outcomes) {
      if (o.status === 'rejected') {
        assert.instance(o.reason, UploaderBusyError);
        assert.is((o.reason as UploaderBusyError).lock.addr, winners[0].addr);
      }
    }
    assert.is((await readLock(home))?.addr, winners[0].addr);
    await winners[0].close();
    assert.is(await readLock(home), null, 'the lock is released on close');
  } finally {
    removeDir(home);
  }
});

test('a stale lock of a dead pid is taken over', async () => {
  const home = tempDir('lock-stale');
  try {
    writeLock(home, { pid: DEAD_PID, port: 1, addr: '127.0.0.1:1', token: 'x', startedAtMs: Date.now() });
    const uploader = await start(home);
    assert.is((await readLock(home))?.pid, process.pid);
    await uploader.close();
  } finally {
    removeDir(home);
  }
});

test('a live pid whose port is silent: booting within the grace, stale after it', async () => {
  const home = tempDir('lock-silent');
  try {
    const silent = { pid: process.pid, port: 1, addr: '127.0.0.1:1', token: 'x' };
    assert.ok(await lockIsLive({ ...silent, startedAtMs: Date.now() }), 'a fresh lock counts as booting');
    writeLock(home, { ...silent, startedAtMs: Date.now() - BOOT_GRACE_MS - 1000 });
    const uploader = await start(home);
    const lock = await readLock(home);
    assert.is(lock?.port, uploader.port, 'the silent lock was replaced');
    await uploader.close();
  } finally {
    removeDir(home);
  }
});

test('an uploader never told of a task exits after its idle time and releases the lock', async () => {
  const home = tempDir('lock-idle');
  let exited!: () => void;
  const idle = new Promise<void>((resolve) => { exited = resolve; });
  const startedMs = Date.now();
  const uploader = await startUploader({ homeDir: home, host: '127.0.0.1', port: 0, idleExitMs: 300, onIdleExit: () => exited() });
  try {
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('still running 10 s after a 300 ms idle time')), 10_000).unref());
    await Promise.race([idle, timeout]);
    assert.ok(Date.now() - startedMs >= 300, 'not before its idle time');
    assert.is(await readLock(home), null, 'the lock is released before the exit');
  } finally {
    await uploader.close();
    removeDir(home);
  }
});

test('the lock a spawning dfget and its child both take is theirs, whichever wrote it first; another token is a rival', async () => {
  const home = tempDir('lock-own');
  try {
    // The child (this process stands in for it: a live pid) booted first and wrote its lock itself.
    const child = { pid: process.pid, port: 45_678, addr: '127.0.0.1:45678', token: 'token-of-the-child', startedAtMs: Date.now() };
    writeLock(home, child);
    assert.is(await acquireLock(home, { ...child, startedAtMs: child.startedAtMs + 5 }), null, 'the spawning dfget owns it: it must not kill its own uploader');
    assert.equal(await readLock(home), child, 'and the lock is left as it was');
    const rival = await acquireLock(home, { ...child, port: 45_679, addr: '127.0.0.1:45679', token: 'token-of-another-dfget' });
    assert.equal(rival, child, 'a start with another token is told of the live uploader');
  } finally {
    removeDir(home);
  }
});

test.run();
