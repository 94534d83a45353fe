/**
 * The multi-lock's part of the conformance suite: all or none, give-back on timeout, no deadlock
 * for sets asked in opposite orders, a fencing token per name, one loss signal, bad input, and
 * many processes with overlapping random sets checked by marks in the file system.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { mutexKeys } from '../backends/redis/keys.js';
import { LOCK_ERROR_CODES, LockLostError } from '../index.js';
import {
  inTempDir,
  type KindSuiteContext,
  PREFIX,
  runWorkers,
  sleep,
  track,
  within,
} from './kind-helpers.js';
import type { TestApi } from './types.js';
import type { WorkerTask } from './worker.js';

export function registerMultiTests(api: TestApi, ctx: KindSuiteContext): void {
  const { it } = api;
  const title = (text: string) => `MultiLock › ${text}`;

  it(title('holds every name at once; each name is that name’s mutex'), async () => {
    const locker = await ctx.newLocker();
    const other = await ctx.newLocker();
    const [a, b, c] = [ctx.fresh('multi-a'), ctx.fresh('multi-b'), ctx.fresh('multi-c')];
    const hold = await locker.multi([c, a, b]).acquire();
    assert.deepEqual(hold.names, [a, b, c].sort());
    assert.equal(hold.isHeld, true);
    for (const name of [a, b, c]) {
      assert.equal(await other.tryAcquire(name), null, `${name} is free`);
      const state = await other.inspect(name);
      assert.equal(state.locked, true);
      assert.equal(hold.fencingTokens.get(name), state.lastFencingToken);
      assert.equal(hold.locks.get(name)?.fencingToken, state.lastFencingToken);
    }
    const released = await hold.release();
    assert.equal(released.outcome, 'released');
    assert.equal(released.released, true);
    assert.deepEqual([...released.outcomes.values()], ['released', 'released', 'released']);
    for (const name of [a, b, c]) assert.equal((await other.inspect(name)).locked, false);
    assert.deepEqual(await hold.release(), released, 'a second release returns the first result');
  });

  it(title('all or none: when one name is taken, nothing stays held'), async () => {
    const locker = await ctx.newLocker();
    const other = await ctx.newLocker();
    const [a, b, c] = [ctx.fresh('multi-a'), ctx.fresh('multi-b'), ctx.fresh('multi-c')];
    const blocker = await other.acquire(b, { ttlMs: 30_000 });
    assert.equal(await locker.multi([a, b, c]).tryAcquire(), null);
    await assert.rejects(locker.multi([a, b, c]).acquire({ waitMs: 200 }), (error) => {
      assert.equal((error as { code?: string }).code, LOCK_ERROR_CODES.timeout);
      assert.equal((error as { lockName?: string }).lockName, b);
      return true;
    });
    for (const name of [a, c]) {
      assert.equal((await other.inspect(name)).locked, false, `${name} was given back`);
    }
    const waiting = track(locker.multi([a, b, c]).acquire({ waitMs: 20_000 }));
    await sleep(150);
    assert.equal(waiting.state.settled, false);
    await blocker.release();
    const hold = await within(waiting.done, 5_000, 'the multi-lock after the blocker');
    await hold.release();
  });

  it(title('callers asking for overlapping sets in opposite orders never deadlock'), async () => {
    const lockers = await Promise.all([1, 2, 3, 4].map(() => ctx.newLocker()));
    const names = [ctx.fresh('multi-x'), ctx.fresh('multi-y'), ctx.fresh('multi-z')];
    const orders = [names, [...names].reverse(), [names[1], names[0]], [names[2], names[1]]];
    let inside = 0;
    let most = 0;
    const runs = lockers.map(async (locker, i) => {
      for (let round = 0; round < 15; round++) {
        await locker.multi(orders[i] as string[]).withLock(async () => {
          inside++;
          most = Math.max(most, inside);
          await sleep(2);
          inside--;
        });
      }
    });
    await within(Promise.all(runs), 30_000, '60 multi-locks in opposite orders');
    // Every pair of these sets shares a name, so no two ever ran at once.
    assert.equal(most, 1);
  });

  it(title('one signal: losing any name aborts it, and withLock reports the loss'), async () => {
    const locker = await ctx.newLocker();
    const [a, b] = [ctx.fresh('multi-a'), ctx.fresh('multi-b')];
    await assert.rejects(
      locker.multi([a, b]).withLock(async (signal, hold) => {
        await ctx.server().command('DEL', mutexKeys(PREFIX, b).lock);
        await assert.rejects(hold.extend(), { code: LOCK_ERROR_CODES.notHeld });
        assert.equal(signal.aborted, true);
        assert.ok(signal.reason instanceof LockLostError);
        assert.equal((signal.reason as LockLostError).lockName, b);
        assert.equal(hold.isHeld, false);
        assert.equal(hold.locks.get(a)?.isHeld, true);
      }),
      { code: LOCK_ERROR_CODES.lost },
    );
    assert.equal((await locker.inspect(a)).locked, false, 'the name still held was released');
  });

  it(title('extend extends every name; remainingMs is the least of them'), async () => {
    const locker = await ctx.newLocker();
    const hold = await locker
      .multi([ctx.fresh('multi-a'), ctx.fresh('multi-b')])
      .acquire({ ttlMs: 1_000, autoRefresh: false });
    await hold.extend(20_000);
    assert.ok(hold.remainingMs > 18_000, `remaining ${hold.remainingMs}`);
    for (const lock of hold.locks.values()) assert.ok(lock.remainingMs > 18_000);
    await hold.release();
    assert.equal(hold.isHeld, false);
  });

  it(title('bad input is refused before anything reaches Redis'), async () => {
    const locker = await ctx.newLocker();
    const invalid = { code: LOCK_ERROR_CODES.invalidArgument };
    const name = ctx.fresh('multi-bad');
    for (const names of [[], 'a', null, [name, name], [name, ''], [name, 42]]) {
      assert.throws(() => locker.multi(names as never), invalid, JSON.stringify(names));
    }
    assert.throws(() => locker.multi(Array.from({ length: 1_001 }, (_, i) => `n${i}`)), invalid);
    const multi = locker.multi([name, `${name}:2`]);
    await assert.rejects(multi.acquire({ ttlMs: 5 }), invalid);
    await assert.rejects(multi.acquire({ owner: 'x' } as never), invalid);
    await assert.rejects(multi.tryAcquire({ waitMs: 1 } as never), invalid);
    await assert.rejects(multi.withLock(42 as never), invalid);
    // Not DBSIZE: keys of earlier tests may expire meanwhile.
    for (const keys of [mutexKeys(PREFIX, name), mutexKeys(PREFIX, `${name}:2`)]) {
      for (const key of Object.values(keys)) {
        assert.equal(Number(await ctx.server().command('EXISTS', key)), 0, key);
      }
    }
  });

  const { startWorker } = ctx;
  if (startWorker) {
    it(title(
      '6 processes take random overlapping sets in random orders: no deadlock, names exclusive',
    ), async () => {
      await inTempDir('latchkey-multi-', async (dir) => {
        const markDir = join(dir, 'marks');
        mkdirSync(markDir);
        const iterations = Math.max(10, Math.round(25 * ctx.scale));
        const names = [1, 2, 3, 4].map((n) => ctx.fresh(`multi-p${n}`));
        const fenceFile = join(dir, 'fences');
        const tasks = Array.from<unknown, WorkerTask>({ length: 6 }, () => ({
          kind: 'multi',
          url: ctx.server().url,
          names,
          iterations,
          ttlMs: 5_000,
          markDir,
          fenceFile,
        }));
        const violations = await runWorkers(startWorker, tasks);
        assert.equal(violations, 0, 'a name was held by two multi-locks at once');
        const last = new Map<string, number>();
        for (const line of readFileSync(fenceFile, 'utf8').trim().split('\n')) {
          const [name = '', text] = line.split(' ');
          const fence = Number(text);
          assert.ok(fence > (last.get(name) ?? 0), `${line} after ${last.get(name)}`);
          last.set(name, fence);
        }
      });
    }, 180_000);
  }
}
