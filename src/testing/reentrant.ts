/**
 * The reentrant lock's part of the conformance suite: nesting in one async context without a
 * Redis call, an owner id shared across lockers and processes with its count in Redis, expiry
 * whatever the count, stale handles, fencing, loss, bad input, and many processes checked by
 * marks in the file system rather than by the library.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { reentrantKeys } from '../backends/redis/keys.js';
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
import type { SuiteServer, TestApi } from './types.js';
import type { WorkerTask } from './worker.js';

/** Scripts the server ran so far (EVAL and EVALSHA), to show that a step sent none. */
async function scriptCalls(server: SuiteServer): Promise<number> {
  const info = String(await server.command('INFO', 'commandstats'));
  let calls = 0;
  for (const match of info.matchAll(/^cmdstat_(?:eval|evalsha|evalsha_ro|eval_ro):calls=(\d+)/gm)) {
    calls += Number(match[1]);
  }
  return calls;
}

export function registerReentrantTests(api: TestApi, ctx: KindSuiteContext): void {
  const { it } = api;
  const title = (text: string) => `ReentrantLock › ${text}`;

  it(
    title('nested withLock in one async context shares the hold: no wait, no Redis call'),
    async () => {
      const locker = await ctx.newLocker({ autoRefresh: false, ttlMs: 30_000 });
      const other = await ctx.newLocker();
      const name = ctx.fresh('re-nested');
      const lock = locker.reentrant(name);
      const result = await lock.withLock(async (_signal, outer) => {
        const before = await scriptCalls(ctx.server());
        const inner = await lock.withLock(async (signal, nested) => {
          assert.equal(signal.aborted, false);
          assert.equal(nested.fencingToken, outer.fencingToken);
          assert.equal(nested.owner, outer.owner);
          // A plain acquire in the same context shares it too.
          const third = await lock.acquire();
          assert.equal(third.fencingToken, outer.fencingToken);
          assert.deepEqual(await third.release(), { outcome: 'released', released: true });
          return 'inner';
        });
        assert.equal(await scriptCalls(ctx.server()), before, 'nesting sent a script to Redis');
        assert.equal(outer.isHeld, true, 'the inner release freed the outer hold');
        const state = await lock.inspect();
        assert.equal(state.locked, true);
        assert.equal(state.holdCount, 1, 'in-process nesting counts once in Redis');
        assert.equal(state.fencingToken, outer.fencingToken);
        assert.equal(await other.reentrant(name).tryAcquire(), null);
        return inner;
      });
      assert.equal(result, 'inner');
      assert.equal((await lock.inspect()).locked, false);
    },
  );

  it(title('another caller waits for the outermost release, then gets a new token'), async () => {
    const locker = await ctx.newLocker();
    const other = await ctx.newLocker();
    const name = ctx.fresh('re-wait');
    const lock = locker.reentrant(name);
    const { waiting, outerFence } = await lock.withLock(async (_signal, outer) => {
      const queued = track(other.reentrant(name).acquire({ waitMs: 20_000 }));
      await until('the other caller queued', async () => (await lock.inspect()).waiters === 1);
      await lock.withLock(async () => {
        await sleep(100);
      });
      await sleep(100);
      assert.equal(queued.state.settled, false, 'the other caller came in after the inner hold');
      return { waiting: queued, outerFence: outer.fencingToken };
    });
    const next = await within(waiting.done, 5_000, 'the other caller after the outermost release');
    assert.ok(next.fencingToken > outerFence);
    await next.release();
  });

  it(
    title('an owner id is shared across lockers, counted in Redis, freed by its last release'),
    async () => {
      const [a, b, c] = await Promise.all([ctx.newLocker(), ctx.newLocker(), ctx.newLocker()]);
      const name = ctx.fresh('re-owner');
      const first = await a.reentrant(name).acquire({ owner: 'job-1' });
      const started = performance.now();
      const second = await b.reentrant(name).acquire({ owner: 'job-1', waitMs: 0 });
      assert.ok(performance.now() - started < 2_000);
      assert.equal(second.fencingToken, first.fencingToken);
      assert.equal(second.owner, 'job-1');
      assert.notEqual(second.token, first.token);
      const state = await a.reentrant(name).inspect();
      assert.equal(state.owner, 'job-1');
      assert.equal(state.holdCount, 2);
      const stranger = track(c.reentrant(name).acquire({ waitMs: 20_000 }));
      await until(
        'the stranger queued',
        async () => (await a.reentrant(name).inspect()).waiters === 1,
      );
      assert.deepEqual(await first.release(), { outcome: 'released', released: true });
      assert.equal((await a.reentrant(name).inspect()).holdCount, 1);
      await sleep(150);
      assert.equal(stranger.state.settled, false, 'the stranger came in while job-1 still held');
      assert.equal(await c.reentrant(name).tryAcquire({ owner: 'job-2' }), null);
      await second.release();
      const next = await within(stranger.done, 5_000, 'the stranger after the last release');
      assert.ok(next.fencingToken > first.fencingToken);
      await next.release();
    },
  );

  it(title('a crashed holder frees the lock after its ttl, whatever its count'), async () => {
    const locker = await ctx.newLocker();
    const other = await ctx.newLocker();
    const name = ctx.fresh('re-crash');
    const lock = locker.reentrant(name);
    const options = { owner: 'job-crash', ttlMs: 400, autoRefresh: false };
    const holds = [
      await lock.acquire(options),
      await lock.acquire(options),
      await lock.acquire(options),
    ];
    assert.equal((await lock.inspect()).holdCount, 3);
    const started = performance.now();
    const next = await within(
      other.reentrant(name).acquire({ waitMs: 10_000 }),
      5_000,
      'the lock after the crashed holder’s ttl',
    );
    assert.ok(performance.now() - started >= 200, 'the lock came back before the ttl');
    for (const hold of holds) {
      assert.deepEqual(await hold.release(), { outcome: 'expired', released: false });
    }
    assert.equal(
      (await lock.inspect()).owner,
      next.owner,
      'a stale release touched the new holder',
    );
    await next.release();
  });

  it(title('a stale handle of an owner never ends a newer hold of the same owner'), async () => {
    const locker = await ctx.newLocker();
    const name = ctx.fresh('re-stale');
    const lock = locker.reentrant(name);
    const stale = await lock.acquire({ owner: 'job-3', ttlMs: 300, autoRefresh: false });
    await until('the first hold expired', async () => !(await lock.inspect()).locked);
    const fresh = await lock.acquire({ owner: 'job-3' });
    assert.ok(fresh.fencingToken > stale.fencingToken, 'a new hold draws a new token');
    assert.deepEqual(await stale.release(), { outcome: 'expired', released: false });
    const state = await lock.inspect();
    assert.equal(state.locked, true);
    assert.equal(state.holdCount, 1);
    assert.equal(fresh.isHeld, true);
    await fresh.release();
  });

  it(
    title('each acquisition is released once: a second release returns the first result'),
    async () => {
      const locker = await ctx.newLocker();
      const lock = locker.reentrant(ctx.fresh('re-twice'));
      const a = await lock.acquire({ owner: 'job-4' });
      const b = await lock.acquire({ owner: 'job-4' });
      assert.deepEqual(await a.release(), { outcome: 'released', released: true });
      assert.deepEqual(await a.release(), { outcome: 'released', released: true });
      // The repeated release did not count against b: the lock is still b's.
      const state = await lock.inspect();
      assert.equal(state.holdCount, 1);
      assert.equal(b.isHeld, true);
      await b.release();
      assert.equal((await lock.inspect()).locked, false);
    },
  );

  it(title('another owner nested in a hold waits like anyone else'), async () => {
    const locker = await ctx.newLocker();
    const lock = locker.reentrant(ctx.fresh('re-other-owner'));
    await lock.withLock(
      async () => {
        await assert.rejects(lock.acquire({ owner: 'job-6', waitMs: 150 }), {
          code: LOCK_ERROR_CODES.timeout,
        });
        const same = await lock.acquire({ owner: 'job-5', waitMs: 0 });
        await same.release();
      },
      { owner: 'job-5' },
    );
  });

  it(title('a lost hold aborts the signal of every handle sharing it'), async () => {
    const locker = await ctx.newLocker();
    const name = ctx.fresh('re-lost');
    const lock = locker.reentrant(name);
    await assert.rejects(
      lock.withLock(async (_signal, outer) => {
        await lock.withLock(async (signal, nested) => {
          await ctx.server().command('DEL', reentrantKeys(PREFIX, name).lock);
          await assert.rejects(nested.extend(), { code: LOCK_ERROR_CODES.notHeld });
          assert.equal(signal.aborted, true);
          assert.equal(outer.signal.aborted, true);
          assert.ok(signal.reason instanceof LockLostError);
        });
      }),
      { code: LOCK_ERROR_CODES.lost },
    );
  });

  it(title('fencing tokens grow per hold and are shared within one'), async () => {
    const locker = await ctx.newLocker();
    const lock = locker.reentrant(ctx.fresh('re-fence'));
    let last = 0;
    for (let i = 0; i < 4; i++) {
      const a = await lock.acquire({ owner: 'job-7' });
      const b = await lock.acquire({ owner: 'job-7' });
      assert.equal(a.fencingToken, b.fencingToken);
      assert.ok(a.fencingToken > last);
      last = a.fencingToken;
      await b.release();
      await a.release();
    }
    assert.equal((await lock.inspect()).lastFencingToken, last);
  });

  it(title('bad input is refused before anything reaches Redis'), async () => {
    const locker = await ctx.newLocker();
    const invalid = { code: LOCK_ERROR_CODES.invalidArgument };
    for (const name of ['', 42, null]) {
      assert.throws(() => locker.reentrant(name as never), invalid, String(name));
    }
    const name = ctx.fresh('re-bad');
    const lock = locker.reentrant(name);
    for (const owner of ['', 42, null, '\ud800', 'x'.repeat(1025)]) {
      await assert.rejects(lock.acquire({ owner } as never), invalid, String(owner));
    }
    await assert.rejects(lock.acquire({ ttlMs: 5 }), invalid);
    await assert.rejects(lock.acquire({ permits: 2 } as never), invalid);
    await assert.rejects(lock.tryAcquire({ waitMs: 10 } as never), invalid);
    await assert.rejects(lock.withLock(42 as never), invalid);
    await assertNoKeys(ctx, reentrantKeys(PREFIX, name));
    // Inside a hold, a shared acquire checks its options as a new one would.
    await lock.withLock(async (_signal, held) => {
      await assert.rejects(lock.acquire({ ttlMs: 5 }), invalid);
      await assert.rejects(lock.acquire({ owner: '' }), invalid);
      assert.equal(held.isHeld, true);
    });
  });

  const { startWorker } = ctx;
  if (startWorker) {
    it(title(
      '6 processes, 3 owners: holders of one owner share, two owners never hold at once',
    ), async () => {
      await inTempDir('latchkey-re-', async (dir) => {
        const markDir = join(dir, 'marks');
        mkdirSync(markDir);
        const iterations = Math.max(10, Math.round(40 * ctx.scale));
        const name = ctx.fresh('re-processes');
        const fenceFile = join(dir, 'fences');
        const tasks = Array.from<unknown, WorkerTask>({ length: 6 }, (_, i) => ({
          kind: 'reentrant',
          url: ctx.server().url,
          name,
          owner: `owner${i % 3}`,
          iterations,
          ttlMs: 5_000,
          markDir,
          fenceFile,
        }));
        const violations = await runWorkers(startWorker, tasks);
        assert.equal(violations, 0, 'two owners held at once, or a nested hold had another token');
        const lines = readFileSync(fenceFile, 'utf8').trim().split('\n');
        assert.equal(lines.length, 6 * iterations);
        // One token per hold: the same owner's overlapping acquisitions share it; a new hold (of
        // any owner) draws a larger one.
        let last = { owner: '', fence: 0 };
        for (const line of lines) {
          const [owner = '', text] = line.split(' ');
          const fence = Number(text);
          if (owner === last.owner) assert.ok(fence >= last.fence, `${line} after ${last.fence}`);
          else assert.ok(fence > last.fence, `${line} after ${last.owner} ${last.fence}`);
          last = { owner, fence };
        }
      });
    }, 180_000);
  }
}
