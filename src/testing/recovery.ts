/** Conformance: recovery from Redis failures, abandoned tokens and errors that cannot pass. */
import assert from 'node:assert/strict';
import { mutexRelease, QUEUE_MODE } from '../backends/redis/scripts/index.js';
import { LOCK_ERROR_CODES } from '../errors.js';
import { Locker } from '../locker.js';
import type { SuiteContext } from './context.js';
import type { TestApi } from './types.js';
import { until } from './wait.js';

export function registerRecoveryTests(api: TestApi, ctx: SuiteContext): void {
  const { describe, it } = api;
  const {
    newLocker,
    connectAs,
    fresh,
    sleep,
    settlesWithin,
    server,
    target,
    SLOW,
    connections,
    lockers,
    nextId,
  } = ctx;

  describe('recovery', () => {
    it('Locker › recovery › after SCRIPT FLUSH (NOSCRIPT) every operation still works', async () => {
      const locker = await newLocker();
      const name = fresh('noscript');
      const lock = await locker.acquire(name, { autoRefresh: false });
      await server.command('SCRIPT', 'FLUSH');
      await lock.extend();
      assert.equal((await lock.release()).outcome, 'released');
      await server.command('SCRIPT', 'FLUSH');
      const again = await locker.acquire(name);
      await again.release();
    });

    it(
      'Locker › recovery › after CLIENT KILL of its connections, acquire, wake-up and release work',
      async () => {
        const holderLocker = await newLocker();
        const waiterLocker = await newLocker();
        const name = fresh('client-kill');
        const warm = await waiterLocker.acquire(`${name}:warm`, { waitMs: 1_000 });
        // A long ttl, so that only a wake-up can end the wait in time, however long the clients
        // take to come back: not the holder's expiry, nor the waiter's queue renewal at 20 s.
        const contended = await holderLocker.acquire(name, { ttlMs: 30_000 });
        const warmWaiter = waiterLocker.acquire(`${name}:warm`, { waitMs: 5_000 }); // subscribes
        await sleep(50);
        await warm.release();
        await (await warmWaiter).release();
        await server.command('CLIENT', 'KILL', 'TYPE', 'normal');
        await server.command('CLIENT', 'KILL', 'TYPE', 'pubsub');
        const waiting = waiterLocker.acquire(name, { ttlMs: 2_000, waitMs: 25_000 });
        await sleep(300);
        await contended.release();
        const next = await settlesWithin(waiting, 10_000, 'acquire after CLIENT KILL');
        assert.equal((await next.release()).outcome, 'released');
      },
      SLOW,
    );
    it(
      'Locker › recovery › a hand-over published while the subscriber reconnects is not waited out',
      async () => {
        const holderLocker = await newLocker();
        const waiterLocker = await newLocker();
        const name = fresh('lost-wake');
        const holder = await holderLocker.acquire(name, { ttlMs: 30_000 });
        const waiting = waiterLocker.acquire(name, { ttlMs: 30_000, waitMs: 25_000 });
        await until(
          'the waiter queued',
          async () => (await holderLocker.inspect(name)).waiters === 1,
        );
        await server.command('CLIENT', 'KILL', 'TYPE', 'pubsub');
        await holder.release(); // its message finds no subscriber
        // Without a re-check on reconnect the waiter would sleep out the holder's 30 s PTTL.
        const next = await settlesWithin(waiting, 5_000, 'acquire after a lost wake-up');
        await next.release();
      },
      SLOW,
    );
  });

  /**
   * Opens `waiter`'s subscriber connection by a wait that ends in a grant, for tests whose waits
   * are shorter than a subscriber's set-up (70–300 ms for a node-redis Sentinel client, more under
   * load), which a first wait pays before it queues. It stays open for 2 s after the wait.
   */
  async function openSubscriber(waiter: Locker, holders: Locker): Promise<void> {
    const name = fresh('warm-up');
    const held = await holders.acquire(name, { ttlMs: 10_000 });
    const waiting = waiter.acquire(name, { ttlMs: 10_000, waitMs: 10_000 });
    await until(
      'the warm-up waiter queued',
      async () => (await holders.inspect(name)).waiters === 1,
    );
    await held.release();
    await (await waiting).release();
  }

  describe('abandoned tokens', () => {
    /** Polls `inspect` until the lock is free; false if it is still held after `ms`. */
    const freeWithin = async (locker: Locker, name: string, ms: number) => {
      const deadline = Date.now() + ms;
      for (;;) {
        if (!(await locker.inspect(name)).locked) return true;
        if (Date.now() > deadline) return false;
        await sleep(50);
      }
    };
    /** Keeps Redis busy in a script for `ms` (other clients get BUSY meanwhile). */
    const busyFor = (ms: number) =>
      server.command(
        'EVAL',
        `local s = redis.call('TIME') local t0 = s[1] * 1000000 + s[2]
         while true do local t = redis.call('TIME')
           if t[1] * 1000000 + t[2] - t0 > ${ms * 1000} then return 1 end end`,
        0,
      );
    const withBusyThreshold = async (body: () => Promise<void>) => {
      await server.command('CONFIG', 'SET', 'busy-reply-threshold', 20);
      try {
        await body();
      } finally {
        await server.command('CONFIG', 'SET', 'busy-reply-threshold', 5000);
      }
    };

    it('Locker › abandoned › an acquire that timed out in a stall is not sent again after NOSCRIPT, and holds nothing', async () => {
      const locker = await newLocker({ commandTimeoutMs: 200 });
      const observer = await newLocker();
      const name = fresh('late-eval');
      await locker.inspect(name); // the locker's one-time server check, before the stall
      await observer.inspect(name);
      await server.command('SCRIPT', 'FLUSH');
      // Another client has loaded the release script again: the clean-up runs at once after
      // the stall, and an EVAL fallback of the acquire would come after it.
      await server.command('SCRIPT', 'LOAD', mutexRelease.lua);
      await server.command('CLIENT', 'PAUSE', 500, 'ALL');
      await assert.rejects(locker.tryAcquire(name, { ttlMs: 5_000 }), {
        code: LOCK_ERROR_CODES.backend,
      });
      // A fallback EVAL sent after the stall would hold the lock for the full 5 s ttl.
      assert.equal(await freeWithin(observer, name, 1_500), true, 'free after the stall');
      await sleep(300);
      assert.equal((await observer.inspect(name)).locked, false);
    });

    it(
      'Locker › abandoned › a withdrawal that fails (BUSY) is retried, so a release does not grant the lock to the departed waiter',
      async () => {
        const holders = await newLocker();
        const locker = await newLocker({ commandTimeoutMs: 300 });
        const others = await newLocker();
        const name = fresh('busy-withdraw');
        await locker.inspect(name);
        await others.inspect(name);
        // Both waiters' subscribers open first: the first one's 400 ms wait must be spent in line,
        // and the second must join the line within those 400 ms.
        await Promise.all([openSubscriber(locker, holders), openSubscriber(others, holders)]);
        const holder = await holders.acquire(name, { ttlMs: 30_000 });
        // It ends with LockTimeoutError, or LockBackendError if its last look met BUSY.
        const departing = assert.rejects(locker.acquire(name, { ttlMs: 20_000, waitMs: 400 }));
        await until(
          'the first waiter queued',
          async () => (await holders.inspect(name)).waiters === 1,
        );
        const next = others.acquire(name, { ttlMs: 20_000, waitMs: 15_000 });
        next.catch(() => {}); // awaited below; a failure before that must not go unhandled
        await until('both waiters queued', async () => (await holders.inspect(name)).waiters === 2);
        await withBusyThreshold(async () => {
          // The first waiter's wait ends while Redis is busy: its withdrawal gets BUSY.
          await busyFor(700);
          await departing;
        });
        const started = Date.now();
        await holder.release();
        // Without a retry the departed waiter's entry is granted the lock for its 20 s ttl.
        const lock = await settlesWithin(next, 5_000, 'the next waiter acquiring');
        assert.ok(Date.now() - started < 5_000);
        await lock.release();
        assert.equal((await others.inspect(name)).waiters, 0);
      },
      SLOW,
    );

    it('Locker › abandoned › a release that fails (BUSY) is retried in the background, so the lock is not held for its ttl', async () => {
      const locker = await newLocker();
      const observer = await newLocker();
      const name = fresh('busy-release');
      await observer.inspect(name);
      const lock = await locker.acquire(name, { ttlMs: 20_000 });
      await withBusyThreshold(async () => {
        const busy = busyFor(600);
        await sleep(100);
        await assert.rejects(lock.release(), { code: LOCK_ERROR_CODES.backend });
        await busy;
      });
      // Without a retry the key would stay for its 20 s ttl.
      assert.equal(await freeWithin(observer, name, 5_000), true, 'free after the busy script');
    });

    it(
      'Locker › abandoned › BUSY is retried while waiting: an acquire during a busy script succeeds after it',
      async () => {
        const locker = await newLocker();
        const name = fresh('busy-acquire');
        await locker.inspect(name);
        await withBusyThreshold(async () => {
          const busy = busyFor(500);
          await sleep(100);
          const acquiring = locker.acquire(name, { waitMs: 5_000 });
          await busy;
          const lock = await settlesWithin(acquiring, 5_000, 'acquire after BUSY');
          await lock.release();
        });
      },
      SLOW,
    );

    it(
      'Locker › abandoned › a grant that reaches a token still being cleaned up is handed on at once',
      async () => {
        // The departing waiter's first attempt that joins the queue is slow on the wire: it
        // reaches Redis 400 ms after it was sent (after the 200 ms command timeout and the first
        // clean-up) and its reply comes back only after 6 s, so the clean-up waits for it.
        const connection = await target.connect(server.url);
        connections.push(connection);
        const inner = connection.adapter;
        let slowAttempts = 0; // armed after the warm-up
        const locker = new Locker(
          {
            ...(inner.cluster && { cluster: true }),
            async runScript(script, keys, args, deadline) {
              const joins = args[2] === QUEUE_MODE.join;
              if (script.name !== 'mutex-acquire' || !joins || slowAttempts-- <= 0) {
                return await inner.runScript(script, keys, args, deadline);
              }
              await sleep(400);
              const reply = await inner.runScript(script, keys, args); // already on the wire
              await sleep(5_600);
              return reply;
            },
            createSubscriber: () => inner.createSubscriber(),
          },
          { commandTimeoutMs: 200 },
        );
        lockers.push(locker);
        const holders = await newLocker();
        const others = await newLocker();
        const name = fresh('grant-to-abandoned');
        await locker.inspect(name);
        await others.inspect(name);
        await openSubscriber(locker, holders); // its 300 ms wait must reach the queue
        slowAttempts = 1;
        const holder = await holders.acquire(name, { ttlMs: 30_000 });
        await assert.rejects(locker.acquire(name, { ttlMs: 20_000, waitMs: 300 }));
        await sleep(300); // the slow attempt has queued its token by now
        const next = others.acquire(name, { ttlMs: 20_000, waitMs: 15_000 });
        next.catch(() => {}); // awaited below; a failure before that must not go unhandled
        await until('both waiters queued', async () => (await holders.inspect(name)).waiters === 2);
        const started = Date.now();
        await holder.release(); // grants the abandoned token; its locker hands the lock on
        const lock = await settlesWithin(next, 8_000, 'the next waiter acquiring');
        const took = Date.now() - started;
        assert.ok(took < 2_000, `handed on after ${took} ms`);
        await lock.release();
      },
      SLOW,
    );
  });

  describe('permanent errors', () => {
    it('Locker › permanent errors › a closed client fails at once with LockClientClosedError, also with waitMs Infinity', async () => {
      const connection = await target.connect(server.url);
      const locker = new Locker(connection.adapter);
      lockers.push(locker);
      await connection.close();
      const name = fresh('closed-client');
      const closed = { code: LOCK_ERROR_CODES.clientClosed, name: 'LockClientClosedError' };
      await settlesWithin(
        assert.rejects(locker.acquire(name, { waitMs: Number.POSITIVE_INFINITY }), closed),
        3_000,
        'acquire on a closed client failing',
      );
      await settlesWithin(assert.rejects(locker.tryAcquire(name), closed), 3_000, 'tryAcquire');
      await settlesWithin(assert.rejects(locker.inspect(name), closed), 3_000, 'inspect');
      await settlesWithin(locker.close(), 3_000, 'close');
    });

    it('Locker › permanent errors › missing permissions (NOPERM) fail at once instead of for waitMs', async () => {
      const user = `nolock${nextId()}`;
      await server.command('ACL', 'SETUSER', user, 'on', '>pw', '~*', '&*', '+@all', '-evalsha');
      try {
        const locker = await newLocker();
        const asUser = new URL(server.url);
        asUser.username = user;
        asUser.password = 'pw';
        const url = asUser.toString();
        const denied = new Locker((await connectAs(url)).adapter);
        lockers.push(denied);
        const name = fresh('noperm');
        await locker.inspect(name);
        for (const waitMs of [10_000, Number.POSITIVE_INFINITY]) {
          await settlesWithin(
            assert.rejects(denied.acquire(name, { waitMs }), (error: Error) => {
              assert.equal((error as { code?: string }).code, LOCK_ERROR_CODES.backend);
              assert.match(error.message, /NOPERM/);
              return true;
            }),
            3_000,
            `acquire (waitMs ${waitMs}) failing`,
          );
        }
        assert.equal((await locker.inspect(name)).locked, false);
      } finally {
        await server.command('ACL', 'DELUSER', user);
      }
    });
  });
}
