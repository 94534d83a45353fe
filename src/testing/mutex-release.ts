/** Conformance: releasing a mutex (outcomes, idempotence, hand-over on release). */
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { mutexKeys } from '../backends/redis/keys.js';
import { LOCK_ERROR_CODES, LockLostError } from '../errors.js';
import type { SuiteContext } from './context.js';
import type { TestApi } from './types.js';

export function registerMutexReleaseTests(api: TestApi, ctx: SuiteContext): void {
  const { describe, it } = api;
  const { newLocker, fresh, sleep, aborted, server, PREFIX } = ctx;

  describe('release', () => {
    it('Locker › release › is idempotent on one handle', async () => {
      const locker = await newLocker();
      const name = fresh('idempotent');
      const lock = await locker.acquire(name);
      const [first, second] = await Promise.all([lock.release(), lock.release()]);
      assert.deepEqual(first, { outcome: 'released', released: true });
      assert.deepEqual(second, first);
      assert.deepEqual(await lock.release(), first);
    });

    it('Locker › release › waits for an in-flight extension', async () => {
      const locker = await newLocker();
      const name = fresh('inflight');
      const lock = await locker.acquire(name, { autoRefresh: false });
      const extension = lock.extend(20_000);
      const release = lock.release();
      await extension;
      assert.equal((await release).outcome, 'released');
      assert.equal(
        (await locker.inspect(name)).locked,
        false,
        'the extension did not outlive the release',
      );
    });

    it('Locker › release › still runs when the caller’s signal is already aborted', async () => {
      const locker = await newLocker();
      const name = fresh('aborted-release');
      const controller = new AbortController();
      const lock = await locker.acquire(name, { signal: controller.signal });
      controller.abort();
      assert.equal((await lock.release()).outcome, 'released');
      assert.equal((await locker.inspect(name)).locked, false);
    });

    it('Locker › release › stays within commandTimeoutMs while Redis stalls, extensions in flight included', async () => {
      const locker = await newLocker({ commandTimeoutMs: 300 });
      const name = fresh('bounded-release');
      const lock = await locker.acquire(name, { ttlMs: 5_000, autoRefresh: false });
      await server.command('CLIENT', 'PAUSE', 1_500, 'ALL');
      const extensions = [lock.extend(), lock.extend(), lock.extend()].map((p) =>
        p.catch((error) => error),
      );
      const started = performance.now();
      await assert.rejects(lock.release(), { code: LOCK_ERROR_CODES.backend });
      const tookMs = performance.now() - started;
      // One 300 ms budget for everything; waiting for each extension in turn would take 1.2 s.
      assert.ok(tookMs < 900, `release took ${tookMs.toFixed(0)} ms`);
      for (const outcome of await Promise.all(extensions)) {
        assert.equal((outcome as { code?: string }).code, LOCK_ERROR_CODES.backend);
      }
      await sleep(1_500); // let the pause end and the late release run
      assert.equal((await locker.inspect(name)).locked, false, 'the late release still ran');
    });

    it('Locker › await using › releases at the end of the scope', async () => {
      const locker = await newLocker();
      const name = fresh('using');
      let token: string;
      {
        await using lock = await locker.acquire(name);
        token = lock.token;
        assert.equal((await locker.inspect(name)).token, token);
      }
      assert.equal((await locker.inspect(name)).locked, false);
    });

    it('Locker › withLock › returns the result and releases; releases when the function throws', async () => {
      const locker = await newLocker();
      const name = fresh('with-lock');
      const result = await locker.withLock(name, async (signal, lock) => {
        assert.equal(signal, lock.signal);
        assert.equal((await locker.inspect(name)).token, lock.token);
        return 42;
      });
      assert.equal(result, 42);
      assert.equal((await locker.inspect(name)).locked, false);
      await assert.rejects(
        locker.withLock(name, () => {
          throw new Error('boom');
        }),
        /boom/,
      );
      assert.equal((await locker.inspect(name)).locked, false);
    });

    it('Locker › withLock › rejects with LockLostError when the lock was lost while the function ran', async () => {
      const locker = await newLocker();
      const name = fresh('with-lock-lost');
      await assert.rejects(
        locker.withLock(
          name,
          async (signal) => {
            await server.command('DEL', mutexKeys(PREFIX, name).lock);
            await aborted(signal);
            return 'done';
          },
          { ttlMs: 1_000, refreshMs: 100 },
        ),
        { code: LOCK_ERROR_CODES.lost },
      );
    });

    it('Locker › withLock › rejects with LockLostError, the function’s error as cause, when the function failed on the loss', async () => {
      const locker = await newLocker();
      const name = fresh('with-lock-abort-error');
      // Deleted under the holder: found by the next refresh.
      const deleted = await locker
        .withLock(
          name,
          async (signal) => {
            await server.command('DEL', mutexKeys(PREFIX, name).lock);
            await delay(5_000, undefined, { signal });
          },
          { ttlMs: 1_000, refreshMs: 100 },
        )
        .then(
          () => assert.fail('withLock resolved'),
          (error: unknown) => error,
        );
      assert.ok(deleted instanceof LockLostError, `rejected with ${String(deleted)}`);
      assert.equal(deleted.code, LOCK_ERROR_CODES.lost);
      assert.equal(deleted.reason, 'expired');
      assert.equal((deleted.cause as Error | undefined)?.name, 'AbortError');
      // Expired at the local deadline, auto-refresh off.
      const expired = await locker
        .withLock(name, (signal) => delay(5_000, undefined, { signal }), {
          ttlMs: 300,
          autoRefresh: false,
        })
        .then(
          () => assert.fail('withLock resolved'),
          (error: unknown) => error,
        );
      assert.ok(expired instanceof LockLostError, `rejected with ${String(expired)}`);
      assert.equal(expired.reason, 'expired');
      assert.equal((expired.cause as Error | undefined)?.name, 'AbortError');
    });

    it('Locker › withLock › rejects with LockLostError when the release finds the lock gone or taken', async () => {
      const locker = await newLocker();
      const name = fresh('with-lock-release-lost');
      const { lock: key } = mutexKeys(PREFIX, name);
      // The next refresh would come 3.3 s later: only the release can notice.
      await assert.rejects(
        locker.withLock(name, async () => {
          await server.command('DEL', key);
          return 'done';
        }),
        { code: LOCK_ERROR_CODES.lost, reason: 'expired' },
      );
      await assert.rejects(
        locker.withLock(name, async () => {
          await server.command('SET', key, 'f'.repeat(32), 'PX', 5_000);
          throw new Error('failed too');
        }),
        (error: unknown) =>
          error instanceof LockLostError &&
          error.reason === 'taken' &&
          (error.cause as Error | undefined)?.message === 'failed too',
      );
      await server.command('DEL', key);
    });
  });
}
