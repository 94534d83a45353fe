/**
 * The read-write lock's part of the conformance suite: shared reads, exclusive writes, a queued
 * writer holding back later readers, the readers behind a writer let in by one release, per-holder
 * expiry, downgrade, fencing across modes, bad input, and many processes checked by marks in the
 * file system rather than by the library.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readWriteKeys } from '../backends/redis/keys.js';
import { LOCK_ERROR_CODES, LockLostError } from '../index.js';
import {
  assertNoKeys,
  inTempDir,
  type KindSuiteContext,
  PREFIX,
  runWorkers,
  sleep,
  track,
  until,
  within,
} from './kind-helpers.js';
import type { TestApi } from './types.js';
import type { WorkerTask } from './worker.js';

export function registerReadWriteTests(api: TestApi, ctx: KindSuiteContext): void {
  const { it } = api;
  const title = (text: string) => `ReadWriteLock › ${text}`;

  it(title('readers share the lock; a writer waits for every one of them'), async () => {
    const locker = await ctx.newLocker();
    const other = await ctx.newLocker();
    const name = ctx.fresh('rw-share');
    const lock = locker.readWrite(name);
    const readers = [await lock.acquireRead(), await lock.acquireRead(), await lock.acquireRead()];
    assert.deepEqual(
      readers.map((read) => read.mode),
      ['read', 'read', 'read'],
    );
    assert.equal(await lock.tryAcquireWrite(), null);
    const writing = track(other.readWrite(name).acquireWrite({ waitMs: 20_000 }));
    await until('the writer queued', async () => (await lock.inspect()).waiters === 1);
    const state = await lock.inspect();
    assert.equal(state.writer, undefined);
    assert.equal(state.readers.length, 3);
    for (const read of readers.slice(0, 2)) await read.release();
    await sleep(200);
    assert.equal(writing.state.settled, false, 'the writer came in while a reader still held');
    await readers[2]?.release();
    const write = await within(writing.done, 5_000, 'the writer after the last reader');
    assert.equal(write.mode, 'write');
    const after = await lock.inspect();
    assert.equal(after.writer?.token, write.token);
    assert.deepEqual(after.readers, []);
    await write.release();
  });

  it(title('a writer excludes readers and other writers'), async () => {
    const locker = await ctx.newLocker();
    const lock = locker.readWrite(ctx.fresh('rw-exclusive'));
    const write = await lock.acquireWrite();
    assert.equal(await lock.tryAcquireRead(), null);
    assert.equal(await lock.tryAcquireWrite(), null);
    await assert.rejects(lock.acquireRead({ waitMs: 150 }), { code: LOCK_ERROR_CODES.timeout });
    assert.deepEqual(await write.release(), { outcome: 'released', released: true });
    const read = await lock.tryAcquireRead();
    assert.ok(read, 'free again after the release');
    await read.release();
  });

  it(
    title('a queued writer stops later readers from going ahead of it (no writer starvation)'),
    async () => {
      const locker = await ctx.newLocker();
      const other = await ctx.newLocker();
      const name = ctx.fresh('rw-starve');
      const lock = locker.readWrite(name);
      const first = await lock.acquireRead({ ttlMs: 30_000 });
      const writing = track(other.readWrite(name).acquireWrite({ waitMs: 20_000 }));
      await until('the writer queued', async () => (await lock.inspect()).waiters === 1);
      // The lock is only read, yet a reader arriving now must line up behind the writer.
      assert.equal(await lock.tryAcquireRead(), null);
      const reading = track(other.readWrite(name).acquireRead({ waitMs: 20_000 }));
      await until('the later reader queued', async () => (await lock.inspect()).waiters === 2);
      await first.release();
      const write = await within(writing.done, 5_000, 'the writer');
      await sleep(150);
      assert.equal(reading.state.settled, false, 'a reader came in with the writer');
      await write.release();
      const read = await within(reading.done, 5_000, 'the reader after the writer');
      assert.ok(read.fencingToken > write.fencingToken);
      await read.release();
    },
  );

  it(title('a writer’s release lets in every reader queued behind it, in one step'), async () => {
    const locker = await ctx.newLocker();
    const name = ctx.fresh('rw-batch');
    const lock = locker.readWrite(name);
    const write = await lock.acquireWrite({ ttlMs: 30_000 });
    const others = await Promise.all([1, 2, 3, 4].map(() => ctx.newLocker()));
    const [writerBehind, ...readerLockers] = others;
    const reads = readerLockers.map((o) => o.readWrite(name).acquireRead({ waitMs: 20_000 }));
    await until('three readers queued', async () => (await lock.inspect()).waiters === 3);
    // A writer behind the readers: it must wait for all of them, and not block them.
    const laterWrite = track(
      (writerBehind as (typeof others)[number]).readWrite(name).acquireWrite({ waitMs: 20_000 }),
    );
    await until('the writer queued behind', async () => (await lock.inspect()).waiters === 4);
    await write.release();
    // Without the push they would sleep out the writer's 30 s ttl.
    const got = await within(Promise.all(reads), 5_000, 'three readers after one release');
    const state = await lock.inspect();
    assert.equal(state.readers.length, 3);
    assert.equal(state.waiters, 1);
    assert.equal(laterWrite.state.settled, false);
    for (const read of got) assert.ok(read.fencingToken > write.fencingToken);
    for (const read of got) await read.release();
    const second = await within(laterWrite.done, 5_000, 'the writer behind the readers');
    assert.ok(second.fencingToken > Math.max(...got.map((read) => read.fencingToken)));
    await second.release();
  });

  it(
    title('each reader expires on its own: a crashed reader frees its share after its own ttl'),
    async () => {
      const locker = await ctx.newLocker();
      const other = await ctx.newLocker();
      const name = ctx.fresh('rw-expiry');
      const lock = locker.readWrite(name);
      // The short one stands for a crashed reader: no refresh, never released.
      const crashed = await lock.acquireRead({ ttlMs: 400, autoRefresh: false });
      const live = await lock.acquireRead({ ttlMs: 30_000 });
      await until('the crashed reader’s share came back', async () => {
        const state = await lock.inspect();
        return state.readers.length === 1 && state.readers[0]?.token === live.token;
      });
      assert.equal(crashed.isHeld, false);
      // The writer now waits for the live reader only, not for anyone's ttl.
      const writing = other.readWrite(name).acquireWrite({ waitMs: 20_000 });
      await until('the writer queued', async () => (await lock.inspect()).waiters === 1);
      const started = performance.now();
      await live.release();
      const write = await within(writing, 5_000, 'the writer after the live reader');
      assert.ok(performance.now() - started < 4_000);
      assert.deepEqual(await crashed.release(), { outcome: 'expired', released: false });
      await write.release();
    },
  );

  it(
    title('downgrade keeps the lock as a reader without a gap and lets queued readers in'),
    async () => {
      const locker = await ctx.newLocker();
      const name = ctx.fresh('rw-downgrade');
      const lock = locker.readWrite(name);
      const write = await lock.acquireWrite({ ttlMs: 30_000 });
      const others = await Promise.all([1, 2, 3].map(() => ctx.newLocker()));
      const reads = others
        .slice(0, 2)
        .map((o) => o.readWrite(name).acquireRead({ waitMs: 20_000 }));
      await until('two readers queued', async () => (await lock.inspect()).waiters === 2);
      const writing = track(
        (others[2] as (typeof others)[number]).readWrite(name).acquireWrite({ waitMs: 20_000 }),
      );
      await until('a writer queued', async () => (await lock.inspect()).waiters === 3);
      const fence = write.fencingToken;
      await write.downgrade();
      assert.equal(write.mode, 'read');
      assert.equal(write.fencingToken, fence);
      assert.equal(write.isHeld, true);
      const got = await within(Promise.all(reads), 5_000, 'the readers after the downgrade');
      const state = await lock.inspect();
      assert.equal(state.writer, undefined);
      assert.deepEqual(
        state.readers.map((holder) => holder.token).sort(),
        [write.token, ...got.map((read) => read.token)].sort(),
      );
      assert.equal(state.readers.find((h) => h.token === write.token)?.fencingToken, fence);
      // Downgrading again is a no-op; the writer still waits for every reader, the downgraded too.
      await write.downgrade();
      for (const read of got) await read.release();
      await sleep(150);
      assert.equal(writing.state.settled, false, 'the writer came in beside the downgraded reader');
      assert.deepEqual(await write.release(), { outcome: 'released', released: true });
      const next = await within(writing.done, 5_000, 'the queued writer');
      await next.release();
      await assert.rejects(write.downgrade(), { code: LOCK_ERROR_CODES.notHeld });
    },
  );

  it(title('a downgrade that finds the hold gone reports the lock lost'), async () => {
    const locker = await ctx.newLocker();
    const name = ctx.fresh('rw-downgrade-lost');
    const write = await locker.readWrite(name).acquireWrite({ ttlMs: 10_000 });
    await ctx.server().command('DEL', readWriteKeys(PREFIX, name).lock);
    await assert.rejects(write.downgrade(), { code: LOCK_ERROR_CODES.notHeld });
    assert.equal(write.signal.aborted, true);
    assert.ok(write.signal.reason instanceof LockLostError);
    assert.equal(write.mode, 'write');
    assert.equal((await write.release()).outcome, 'expired');
  });

  it(title('fencing tokens come from one counter across readers and writers'), async () => {
    const locker = await ctx.newLocker();
    const lock = locker.readWrite(ctx.fresh('rw-fence'));
    let last = 0;
    for (const mode of ['read', 'write', 'read', 'read', 'write'] as const) {
      const held = mode === 'read' ? await lock.acquireRead() : await lock.acquireWrite();
      assert.ok(held.fencingToken > last, `${mode}: ${held.fencingToken} after ${last}`);
      last = held.fencingToken;
      await held.release();
    }
    assert.equal((await lock.inspect()).lastFencingToken, last);
  });

  it(title('a read-write lock, a semaphore and a mutex of one name are separate'), async () => {
    const locker = await ctx.newLocker();
    const name = ctx.fresh('rw-apart');
    const write = await locker.readWrite(name).acquireWrite();
    const mutex = await locker.tryAcquire(name);
    assert.ok(mutex, 'the mutex of the same name is free');
    const permit = await locker.semaphore(name, { limit: 1 }).tryAcquire();
    assert.ok(permit, 'the semaphore of the same name is free');
    for (const held of [write, mutex, permit]) await held.release();
  });

  it(
    title('withReadLock / withWriteLock run the function, release, and pass results through'),
    async () => {
      const locker = await ctx.newLocker();
      const lock = locker.readWrite(ctx.fresh('rw-with'));
      const value = await lock.withWriteLock(async (signal, write) => {
        assert.equal(signal.aborted, false);
        assert.equal(write.mode, 'write');
        assert.equal(await lock.tryAcquireRead(), null);
        return await lock
          .withReadLock(async () => 'never', { waitMs: 50 })
          .catch((error: { code?: string }) => error.code);
      });
      assert.equal(value, LOCK_ERROR_CODES.timeout);
      const both = await lock.withReadLock(async (_signal, read) => {
        assert.equal(read.mode, 'read');
        return lock.withReadLock(async () => 'shared');
      });
      assert.equal(both, 'shared');
      await assert.rejects(
        lock.withWriteLock(() => {
          throw new Error('boom');
        }),
        /boom/,
      );
      const state = await lock.inspect();
      assert.equal(state.writer, undefined);
      assert.deepEqual(state.readers, []);
    },
  );

  it(title('a waiting writer that gives up leaves the line; readers go ahead again'), async () => {
    const locker = await ctx.newLocker();
    const name = ctx.fresh('rw-abort');
    const lock = locker.readWrite(name);
    const read = await lock.acquireRead({ ttlMs: 30_000 });
    const controller = new AbortController();
    const writing = lock.acquireWrite({ waitMs: 20_000, signal: controller.signal });
    await until('the writer queued', async () => (await lock.inspect()).waiters === 1);
    controller.abort(new Error('gave up'));
    await assert.rejects(writing, /gave up/);
    await until('the line is empty', async () => (await lock.inspect()).waiters === 0);
    const second = await lock.tryAcquireRead();
    assert.ok(second, 'a reader goes ahead once no writer waits');
    await second.release();
    await read.release();
  });

  it(title('close() reports held reads and writes lost (closed) and gives them back'), async () => {
    const locker = await ctx.newLocker();
    const other = await ctx.newLocker();
    const name = ctx.fresh('rw-close');
    const read = await locker.readWrite(name).acquireRead({ ttlMs: 30_000 });
    await locker.close();
    assert.equal((read.signal.reason as LockLostError).reason, 'closed');
    const write = await other.readWrite(name).tryAcquireWrite();
    assert.ok(write, 'the read was given back at close');
    await write.release();
    assert.throws(() => locker.readWrite(name), { code: LOCK_ERROR_CODES.closed });
  });

  it(title('bad input is refused before anything reaches Redis'), async () => {
    const locker = await ctx.newLocker();
    const invalid = { code: LOCK_ERROR_CODES.invalidArgument };
    for (const name of ['', 42, null, undefined]) {
      assert.throws(() => locker.readWrite(name as never), invalid, String(name));
    }
    const name = ctx.fresh('rw-bad');
    const lock = locker.readWrite(name);
    await assert.rejects(lock.acquireRead({ ttlMs: 5 }), invalid);
    await assert.rejects(lock.acquireWrite({ waitMs: -1 }), invalid);
    await assert.rejects(lock.acquireWrite({ permits: 2 } as never), invalid);
    await assert.rejects(lock.acquireRead({ mode: 'write' } as never), invalid);
    await assert.rejects(lock.tryAcquireWrite({ waitMs: 10 } as never), invalid);
    await assert.rejects(lock.acquireRead({ signal: 'no' } as never), invalid);
    await assert.rejects(lock.withReadLock(42 as never), invalid);
    await assert.rejects(lock.withWriteLock(undefined as never), invalid);
    await assertNoKeys(ctx, readWriteKeys(PREFIX, name));
  });

  const { startWorker } = ctx;
  if (startWorker) {
    it(title(
      '6 processes read and write (some downgrade): never a writer beside anyone, fences ordered',
    ), async () => {
      await inTempDir('latchkey-rw-', async (dir) => {
        const markDir = join(dir, 'marks');
        mkdirSync(join(markDir, 'readers'), { recursive: true });
        const iterations = Math.max(12, Math.round(60 * ctx.scale));
        const name = ctx.fresh('rw-processes');
        const fenceFile = join(dir, 'fences');
        const tasks = Array.from<unknown, WorkerTask>({ length: 6 }, (_, i) => ({
          kind: 'read-write',
          url: ctx.server().url,
          name,
          iterations,
          ttlMs: 5_000,
          writeEvery: 2 + (i % 3),
          downgrade: i % 2 === 0,
          markDir,
          fenceFile,
        }));
        const violations = await runWorkers(startWorker, tasks);
        assert.equal(violations, 0, 'the marks saw a writer together with another holder');
        const lines = readFileSync(fenceFile, 'utf8').trim().split('\n');
        const holds = lines.filter((line) => !line.startsWith('D '));
        assert.equal(holds.length, 6 * iterations);
        assert.equal(new Set(holds.map((line) => line.split(' ')[1])).size, holds.length);
        // A writer's token is above every token before it; every token is above the last writer's.
        let highest = 0;
        let lastWriter = 0;
        for (const line of holds) {
          const [mode, text] = line.split(' ');
          const fence = Number(text);
          assert.ok(fence > lastWriter, `${line} after a writer's ${lastWriter}`);
          if (mode === 'W') {
            assert.ok(fence > highest, `${line} after ${highest}`);
            lastWriter = fence;
          }
          highest = Math.max(highest, fence);
        }
      });
    }, 180_000);
  }
}
