/**
 * The counting semaphore's part of the conformance suite: limits, strict FIFO, grants to as many
 * queued callers as fit, per-holder expiry, fencing, loss, bad input, and many processes against
 * an occupancy oracle that lives in the file system, not in the library.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { semaphoreKeys } from '../backends/redis/keys.js';
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

export function registerSemaphoreTests(api: TestApi, ctx: KindSuiteContext): void {
  const { it } = api;
  const title = (text: string) => `Semaphore › ${text}`;

  it(title('holds up to the limit, then refuses until a permit comes back'), async () => {
    const locker = await ctx.newLocker();
    const pool = locker.semaphore(ctx.fresh('sem-limit'), { limit: 3 });
    const permits = [await pool.acquire(), await pool.acquire(), await pool.acquire()];
    assert.equal(await pool.tryAcquire(), null);
    const state = await pool.inspect();
    assert.equal(state.limit, 3);
    assert.equal(state.permitsInUse, 3);
    assert.equal(state.holders.length, 3);
    const [first, ...rest] = permits;
    assert.deepEqual(await first?.release(), { outcome: 'released', released: true });
    const again = await pool.tryAcquire();
    assert.ok(again, 'a permit came back with the release');
    for (const permit of [...rest, again]) await permit.release();
    assert.equal((await pool.inspect()).permitsInUse, 0);
  });

  it(title('a holder takes several permits at once, all or none'), async () => {
    const locker = await ctx.newLocker();
    const pool = locker.semaphore(ctx.fresh('sem-k'), { limit: 4 });
    const three = await pool.acquire({ permits: 3 });
    assert.equal(three.permits, 3);
    assert.equal(await pool.tryAcquire({ permits: 2 }), null);
    const one = await pool.tryAcquire({ permits: 1 });
    assert.ok(one);
    assert.equal((await pool.inspect()).permitsInUse, 4);
    await three.release();
    await one.release();
  });

  it(
    title('strict FIFO: a caller wanting 2 is not overtaken by a later caller wanting 1'),
    async () => {
      const locker = await ctx.newLocker();
      const other = await ctx.newLocker();
      const name = ctx.fresh('sem-fifo');
      const pool = locker.semaphore(name, { limit: 2 });
      const a = await pool.acquire({ ttlMs: 30_000 });
      const b = await pool.acquire({ ttlMs: 30_000 });
      const wantsTwo = track(
        other.semaphore(name, { limit: 2 }).acquire({ permits: 2, waitMs: 20_000 }),
      );
      await until('the caller wanting 2 queued', async () => (await pool.inspect()).waiters === 1);
      const wantsOne = track(other.semaphore(name, { limit: 2 }).acquire({ waitMs: 20_000 }));
      await until('the caller wanting 1 queued', async () => (await pool.inspect()).waiters === 2);
      await a.release();
      // One permit is free, but the head of the line wants two: nobody may go ahead of it.
      await sleep(300);
      assert.equal(wantsTwo.state.settled, false);
      assert.equal(wantsOne.state.settled, false, 'a later, smaller caller overtook the head');
      await b.release();
      const two = await within(wantsTwo.done, 5_000, 'the grant of 2 permits');
      assert.equal(two.permits, 2);
      assert.equal(wantsOne.state.settled, false);
      await two.release();
      const one = await within(wantsOne.done, 5_000, 'the grant of 1 permit');
      assert.ok(one.fencingToken > two.fencingToken);
      await one.release();
    },
  );

  it(title('a release grants as many queued callers as now fit, in one step'), async () => {
    const locker = await ctx.newLocker();
    const name = ctx.fresh('sem-many');
    const pool = locker.semaphore(name, { limit: 3 });
    const all = await pool.acquire({ permits: 3, ttlMs: 30_000 });
    const others = await Promise.all([1, 2, 3].map(() => ctx.newLocker()));
    const waits = others.map((o) => o.semaphore(name, { limit: 3 }).acquire({ waitMs: 20_000 }));
    await until('three callers queued', async () => (await pool.inspect()).waiters === 3);
    await all.release();
    // Without the push they would sleep out the holder's 30 s ttl.
    const got = await within(Promise.all(waits), 5_000, 'three grants after one release');
    const fences = got.map((permit) => permit.fencingToken).sort((x, y) => x - y);
    assert.equal(new Set(fences).size, 3);
    assert.ok((fences[0] ?? 0) > all.fencingToken);
    assert.equal((await pool.inspect()).permitsInUse, 3);
    for (const permit of got) await permit.release();
  });

  it(
    title('each holder expires on its own: a crashed holder’s permits come back after its ttl'),
    async () => {
      const locker = await ctx.newLocker();
      const other = await ctx.newLocker();
      const name = ctx.fresh('sem-expiry');
      const pool = locker.semaphore(name, { limit: 2 });
      // The short one stands for a crashed holder: no refresh, never released.
      const short = await pool.acquire({ ttlMs: 400, autoRefresh: false });
      const long = await pool.acquire({ ttlMs: 30_000 });
      const started = performance.now();
      const waiting = other.semaphore(name, { limit: 2 }).acquire({ waitMs: 10_000 });
      const next = await within(waiting, 5_000, 'a permit after the short holder expired');
      assert.ok(performance.now() - started >= 200, 'the permit came before the holder expired');
      assert.equal(short.isHeld, false);
      assert.equal(long.isHeld, true);
      const state = await pool.inspect();
      assert.deepEqual(state.holders.map((h) => h.token).sort(), [long.token, next.token].sort());
      assert.deepEqual(await short.release(), { outcome: 'expired', released: false });
      await long.release();
      await next.release();
    },
  );

  it(title('fencing tokens grow across holders and hand-overs'), async () => {
    const locker = await ctx.newLocker();
    const pool = locker.semaphore(ctx.fresh('sem-fence'), { limit: 2 });
    let last = 0;
    for (let i = 0; i < 6; i++) {
      const permit = await pool.acquire();
      assert.ok(permit.fencingToken > last, `${permit.fencingToken} after ${last}`);
      last = permit.fencingToken;
      await permit.release();
    }
    assert.equal((await pool.inspect()).lastFencingToken, last);
  });

  it(
    title('asking with another limit while in use is a typed error; once idle it is allowed'),
    async () => {
      const locker = await ctx.newLocker();
      const name = ctx.fresh('sem-mismatch');
      const held = await locker.semaphore(name, { limit: 2 }).acquire();
      await assert.rejects(locker.semaphore(name, { limit: 5 }).acquire({ waitMs: 0 }), (error) => {
        assert.equal((error as { code?: string }).code, LOCK_ERROR_CODES.limitMismatch);
        assert.equal((error as { existingLimit?: number }).existingLimit, 2);
        return true;
      });
      await held.release();
      const relimited = await locker.semaphore(name, { limit: 5 }).acquire({ permits: 5 });
      assert.equal((await locker.semaphore(name, { limit: 5 }).inspect()).limit, 5);
      await relimited.release();
    },
  );

  it(title('a permit whose record is deleted is reported lost at the next extension'), async () => {
    const locker = await ctx.newLocker();
    const name = ctx.fresh('sem-lost');
    const permit = await locker.semaphore(name, { limit: 2 }).acquire({ ttlMs: 10_000 });
    await ctx.server().command('DEL', semaphoreKeys(PREFIX, name).lock);
    await assert.rejects(permit.extend(), { code: LOCK_ERROR_CODES.notHeld });
    assert.equal(permit.signal.aborted, true);
    assert.ok(permit.signal.reason instanceof LockLostError);
    assert.equal((permit.signal.reason as LockLostError).reason, 'expired');
    assert.equal((await permit.release()).outcome, 'expired');
  });

  it(title('extend never shortens a holder’s expiry'), async () => {
    const locker = await ctx.newLocker();
    const pool = locker.semaphore(ctx.fresh('sem-extend'), { limit: 1 });
    const permit = await pool.acquire({ ttlMs: 10_000, autoRefresh: false });
    await permit.extend(200);
    assert.ok(permit.remainingMs > 8_000, `remaining ${permit.remainingMs}`);
    const [holder] = (await pool.inspect()).holders;
    assert.ok((holder?.remainingMs ?? 0) > 8_000);
    await permit.extend(20_000);
    assert.ok(permit.remainingMs > 18_000);
    await permit.release();
  });

  it(
    title('withPermits runs the function, releases, and passes its result and errors through'),
    async () => {
      const locker = await ctx.newLocker();
      const pool = locker.semaphore(ctx.fresh('sem-with'), { limit: 1 });
      const value = await pool.withPermits(async (signal, permit) => {
        assert.equal(signal.aborted, false);
        assert.equal(permit.permits, 1);
        assert.equal(await pool.tryAcquire(), null);
        return 42;
      });
      assert.equal(value, 42);
      await assert.rejects(
        pool.withPermits(() => {
          throw new Error('boom');
        }),
        /boom/,
      );
      assert.equal((await pool.inspect()).permitsInUse, 0);
    },
  );

  it(title('a waiter that gives up leaves the line and holds nothing'), async () => {
    const locker = await ctx.newLocker();
    const name = ctx.fresh('sem-abort');
    const pool = locker.semaphore(name, { limit: 1 });
    const held = await pool.acquire({ ttlMs: 30_000 });
    const controller = new AbortController();
    const waiting = pool.acquire({ waitMs: 20_000, signal: controller.signal });
    await until('the waiter queued', async () => (await pool.inspect()).waiters === 1);
    controller.abort(new Error('gave up'));
    await assert.rejects(waiting, /gave up/);
    await assert.rejects(pool.acquire({ waitMs: 200 }), { code: LOCK_ERROR_CODES.timeout });
    await held.release();
    await until('the line is empty and the permit free', async () => {
      const state = await pool.inspect();
      return state.waiters === 0 && state.permitsInUse === 0;
    });
  });

  it(title('close() reports held permits lost (closed) and gives them back'), async () => {
    const locker = await ctx.newLocker();
    const other = await ctx.newLocker();
    const name = ctx.fresh('sem-close');
    const permit = await locker.semaphore(name, { limit: 1 }).acquire({ ttlMs: 30_000 });
    await locker.close();
    assert.equal((permit.signal.reason as LockLostError).reason, 'closed');
    const next = await other.semaphore(name, { limit: 1 }).tryAcquire();
    assert.ok(next, 'the permit was given back at close');
    await next.release();
    assert.throws(() => locker.semaphore(name, { limit: 1 }), {
      code: LOCK_ERROR_CODES.closed,
    });
  });

  it(title('bad input is refused before anything reaches Redis'), async () => {
    const locker = await ctx.newLocker();
    const name = ctx.fresh('sem-bad');
    const invalid = { code: LOCK_ERROR_CODES.invalidArgument };
    for (const limit of [0, -1, 1.5, Number.NaN, '3', 2 ** 31, undefined, null]) {
      assert.throws(() => locker.semaphore(name, { limit } as never), invalid, String(limit));
    }
    assert.throws(() => locker.semaphore(name, undefined as never), invalid);
    assert.throws(() => locker.semaphore(name, { limit: 2, permits: 1 } as never), invalid);
    assert.throws(() => locker.semaphore('', { limit: 2 }), invalid);
    const pool = locker.semaphore(name, { limit: 2 });
    for (const permits of [0, 3, 1.5, -1, '1', null]) {
      await assert.rejects(pool.acquire({ permits } as never), invalid, String(permits));
    }
    await assert.rejects(pool.acquire({ ttlMs: 5 }), invalid);
    await assert.rejects(pool.acquire({ limit: 2 } as never), invalid);
    await assert.rejects(pool.tryAcquire({ waitMs: 10 } as never), invalid);
    await assert.rejects(pool.withPermits(42 as never), invalid);
    await assertNoKeys(ctx, semaphoreKeys(PREFIX, name));
  });

  const { startWorker } = ctx;
  if (startWorker) {
    it(title(
      '6 processes contend for 3 permits: never more than 3 held, every fence unique',
    ), async () => {
      await inTempDir('latchkey-sem-', async (dir) => {
        const slotDir = join(dir, 'slots');
        mkdirSync(slotDir);
        const iterations = Math.max(10, Math.round(60 * ctx.scale));
        const name = ctx.fresh('sem-processes');
        const tasks = Array.from<unknown, WorkerTask>({ length: 6 }, (_, i) => ({
          kind: 'semaphore',
          url: ctx.server().url,
          name,
          limit: 3,
          permits: 1 + (i % 2),
          iterations,
          ttlMs: 5_000,
          slotDir,
          fenceFile: join(dir, 'fences'),
        }));
        const violations = await runWorkers(startWorker, tasks);
        assert.equal(violations, 0, 'the slot oracle saw more than 3 permits held at once');
        const fences = readFileSync(join(dir, 'fences'), 'utf8').trim().split('\n');
        assert.equal(fences.length, 6 * iterations);
        assert.equal(new Set(fences.map((line) => line.split(' ')[0])).size, fences.length);
      });
    }, 180_000);
  }
}
