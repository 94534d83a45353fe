/** Conformance: the server check at first use, and close(). */
import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import { CHANNELS, WARNING_CODES } from '../diagnostics.js';
import { LOCK_ERROR_CODES, LockLostError } from '../errors.js';
import type { SuiteContext } from './context.js';
import type { TestApi } from './types.js';

export function registerLifecycleTests(api: TestApi, ctx: SuiteContext): void {
  const { describe, it } = api;
  const { newLocker, fresh, sleep, settlesWithin, aborted, server } = ctx;

  describe('server check', () => {
    it('Locker › server check › an evicting maxmemory-policy warns once per locker, not per call', async () => {
      const warnings: { code: string }[] = [];
      const eviction: string[] = [WARNING_CODES.evictableFence, WARNING_CODES.evictableLock];
      const onWarning = (message: unknown) => {
        const warning = message as { code: string };
        if (eviction.includes(warning.code)) warnings.push(warning);
      };
      diagnosticsChannel.subscribe(CHANNELS.warning, onWarning);
      try {
        for (const [policy, code] of [
          ['allkeys-lru', WARNING_CODES.evictableFence],
          ['volatile-ttl', WARNING_CODES.evictableLock],
        ] as const) {
          await server.command('CONFIG', 'SET', 'maxmemory-policy', policy);
          warnings.length = 0;
          const lockers = [await newLocker(), await newLocker()];
          for (const locker of lockers) {
            for (let i = 0; i < 3; i++) {
              const lock = await locker.acquire(fresh('policy'));
              await lock.release();
            }
          }
          assert.deepEqual(
            warnings.map((warning) => warning.code),
            [code, code],
          );
        }
        await server.command('CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
        warnings.length = 0;
        await (await (await newLocker()).acquire(fresh('policy'))).release();
        assert.deepEqual(warnings, []);
      } finally {
        diagnosticsChannel.unsubscribe(CHANNELS.warning, onWarning);
        await server.command('CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
      }
    });

    it('Locker › server check › a server without an append-only file warns once per locker, one with it does not', async () => {
      const codes: string[] = [];
      const onWarning = (message: unknown) => {
        const { code } = message as { code: string };
        if (code === WARNING_CODES.notPersistent) codes.push(code);
      };
      diagnosticsChannel.subscribe(CHANNELS.warning, onWarning);
      try {
        await server.command('CONFIG', 'SET', 'appendonly', 'no');
        for (const locker of [await newLocker(), await newLocker()]) {
          for (let i = 0; i < 3; i++) await (await locker.acquire(fresh('aof'))).release();
        }
        assert.deepEqual(codes, [WARNING_CODES.notPersistent, WARNING_CODES.notPersistent]);
        codes.length = 0;
        await server.command('CONFIG', 'SET', 'appendonly', 'yes');
        await (await (await newLocker()).acquire(fresh('aof'))).release();
        assert.deepEqual(codes, []);
      } finally {
        diagnosticsChannel.unsubscribe(CHANNELS.warning, onWarning);
        await server.command('CONFIG', 'SET', 'appendonly', 'no');
      }
    });
  });

  describe('out of memory', () => {
    it('Locker › out of memory › an acquire Redis refuses for maxmemory rejects with LockOutOfMemoryError (ERR_LOCK_OOM), and a held lock still releases', async () => {
      const locker = await newLocker();
      const held = await locker.acquire(fresh('oom-held'));
      const name = fresh('oom');
      await server.command('CONFIG', 'SET', 'maxmemory', '1');
      try {
        await assert.rejects(locker.acquire(name, { waitMs: 0 }), {
          name: 'LockOutOfMemoryError',
          code: LOCK_ERROR_CODES.outOfMemory,
        });
        // Retried within the wait (memory may be freed), ending with the same error.
        await assert.rejects(locker.acquire(name, { waitMs: 200 }), {
          code: LOCK_ERROR_CODES.outOfMemory,
        });
        assert.equal((await held.release()).outcome, 'released');
      } finally {
        await server.command('CONFIG', 'SET', 'maxmemory', '0');
      }
      assert.equal((await locker.inspect(name)).locked, false);
    });
  });

  describe('close', () => {
    it('Locker › close › ends pending acquires, releases held locks, refuses new work', async () => {
      const locker = await newLocker();
      const other = await newLocker();
      const name = fresh('close');
      const held = await locker.acquire(`${name}:held`);
      const blocker = await other.acquire(name);
      const pending = locker.acquire(name, { waitMs: 10_000 });
      const rejected = assert.rejects(pending, {
        code: LOCK_ERROR_CODES.closed,
        name: 'LockerClosedError',
      });
      await sleep(50);
      const heldSignal = held.signal;
      await locker.close();
      await rejected;
      assert.equal((await other.inspect(`${name}:held`)).locked, false);
      assert.equal(held.isHeld, false);
      assert.ok(heldSignal.reason instanceof LockLostError, 'the held lock was reported lost');
      assert.equal(heldSignal.reason.reason, 'closed');
      await assert.rejects(locker.acquire(name), { code: LOCK_ERROR_CODES.closed });
      await locker.close(); // idempotent
      await blocker.release();
      assert.equal((await other.inspect(name)).waiters, 0);
    });

    it('Locker › close › aborts the signal of a running withLock before releasing, and withLock rejects with LockLostError (closed)', async () => {
      const locker = await newLocker();
      const other = await newLocker();
      const name = fresh('close-with-lock');
      let signalSeen: AbortSignal | undefined;
      let entered: () => void = () => {};
      const inside = new Promise<void>((resolve) => {
        entered = resolve;
      });
      const running = locker
        .withLock(name, async (signal) => {
          signalSeen = signal;
          entered();
          await settlesWithin(aborted(signal), 3_000, 'abort of the callback’s signal');
          return 'finished';
        })
        .then(
          (value) => value,
          (error: unknown) => error,
        );
      await inside;
      const state = await other.inspect(name);
      const closing = locker.close();
      // Another locker waiting for the lock gets it once close() released it.
      const next = await other.acquire(name, { waitMs: 5_000 });
      const abortedWhenTaken = signalSeen?.aborted;
      await closing;
      assert.equal(abortedWhenTaken, true, 'the signal aborted before another holder got in');
      assert.ok(
        next.fencingToken > (state.lastFencingToken ?? 0),
        `fencing token ${next.fencingToken} after ${state.lastFencingToken}`,
      );
      const outcome = await running;
      assert.ok(outcome instanceof LockLostError, `withLock settled with ${String(outcome)}`);
      assert.equal(outcome.code, LOCK_ERROR_CODES.lost);
      assert.equal(outcome.reason, 'closed');
      await next.release();
    });
  });
}
