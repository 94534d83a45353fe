/** Conformance: acquiring a mutex (waits, hand-overs, fairness, wake-ups). */
import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import { mutexKeys } from '../backends/redis/keys.js';
import { CHANNELS } from '../diagnostics.js';
import { LOCK_ERROR_CODES, LockTimeoutError } from '../errors.js';
import { fixedDelay, maxAttempts } from '../retry.js';
import type { SuiteContext } from './context.js';
import type { TestApi } from './types.js';
import { until } from './wait.js';

export function registerMutexAcquireTests(api: TestApi, ctx: SuiteContext): void {
  const { describe, it } = api;
  const {
    newLocker,
    newTappedLocker,
    fresh,
    queueWaiter,
    sleep,
    settlesWithin,
    server,
    target,
    patternListener,
    PREFIX,
    SLOW,
    connections,
  } = ctx;

  /** The key's PTTL once it is above `ms` (a granted lock claimed), or the last seen after 1 s. */
  const claimedPttl = async (key: string, ms: number): Promise<number> => {
    let pttl = Number(await server.command('PTTL', key));
    for (let i = 0; i < 100 && pttl <= ms; i++) {
      await sleep(10);
      pttl = Number(await server.command('PTTL', key));
    }
    return pttl;
  };

  describe('acquire', () => {
    it('Locker › acquire › the acquire event says how long the caller waited, in whole ms', async () => {
      const locker = await newLocker();
      const name = fresh('waited');
      const holder = await locker.acquire(name);
      const events: { name: string; waitedMs: number }[] = [];
      const onAcquire = (message: unknown) => events.push(message as (typeof events)[number]);
      diagnosticsChannel.subscribe(CHANNELS.acquire, onAcquire);
      try {
        const waiting = locker.acquire(name);
        await sleep(60);
        await holder.release();
        await (await waiting).release();
      } finally {
        diagnosticsChannel.unsubscribe(CHANNELS.acquire, onAcquire);
      }
      const waited = events.find((event) => event.name === name);
      assert.ok(waited, 'an acquire event for the waiter');
      assert.ok(Number.isInteger(waited.waitedMs) && waited.waitedMs >= 50, `${waited.waitedMs}`);
    });

    it('Locker › acquire › returns a handle with name, unique token, fencing token and validity', async () => {
      const locker = await newLocker();
      const name = fresh('basic');
      const lock = await locker.acquire(name, { ttlMs: 5_000 });
      assert.equal(lock.name, name);
      assert.match(lock.token, /^[0-9a-f]{32}$/);
      assert.ok(Number.isInteger(lock.fencingToken) && lock.fencingToken > 0);
      assert.ok(
        lock.remainingMs > 4_000 && lock.remainingMs <= 5_000,
        `remaining ${lock.remainingMs}`,
      );
      // Every duration latchkey reports is whole milliseconds.
      assert.ok(Number.isInteger(lock.remainingMs), `remaining ${lock.remainingMs}`);
      assert.ok(Number.isInteger((await locker.inspect(name)).remainingMs));
      assert.equal(lock.isHeld, true);
      assert.equal(lock.signal.aborted, false);
      const state = await locker.inspect(name);
      assert.equal(state.locked, true);
      assert.equal(state.token, lock.token);
      assert.equal(state.lastFencingToken, lock.fencingToken);
      assert.deepEqual(await lock.release(), { outcome: 'released', released: true });
      assert.equal(lock.isHeld, false);
      assert.equal(lock.remainingMs, 0);
      assert.equal((await locker.inspect(name)).locked, false);
    });

    it('Locker › tryAcquire › returns null while the lock is held, a handle once it is free', async () => {
      const locker = await newLocker();
      const name = fresh('try');
      const first = await locker.acquire(name);
      assert.equal(await locker.tryAcquire(name), null);
      await first.release();
      const second = await locker.tryAcquire(name);
      assert.ok(second);
      assert.notEqual(second.token, first.token);
      await second.release();
    });

    it('Locker › acquire › rejects with LockTimeoutError after waitMs and leaves no queue entry', async () => {
      const locker = await newLocker();
      const name = fresh('timeout');
      const holder = await locker.acquire(name);
      const started = performance.now();
      await assert.rejects(locker.acquire(name, { waitMs: 200 }), {
        code: LOCK_ERROR_CODES.timeout,
        name: 'LockTimeoutError',
      });
      assert.ok(performance.now() - started >= 195);
      await sleep(50); // the withdrawal runs in the background
      assert.equal((await locker.inspect(name)).waiters, 0);
      await holder.release();
      assert.equal((await locker.inspect(name)).locked, false);
    });

    it('Locker › acquire › an aborted signal ends the wait with its reason and withdraws the waiter', async () => {
      const locker = await newLocker();
      const name = fresh('abort');
      const holder = await locker.acquire(name);
      const controller = new AbortController();
      const pending = locker.acquire(name, { signal: controller.signal, waitMs: 10_000 });
      await sleep(50);
      controller.abort(new Error('caller gave up'));
      await assert.rejects(pending, /caller gave up/);
      await sleep(50);
      assert.equal((await locker.inspect(name)).waiters, 0);
      // The release must not hand the lock to the departed waiter.
      await holder.release();
      assert.equal((await locker.inspect(name)).locked, false);
    });

    it('Locker › acquire › a signal aborted as the acquired reply arrives gives the lock back and rejects with its reason', async () => {
      const controller = new AbortController();
      // The abort lands after Redis ran the winning attempt and before latchkey reads its reply.
      const locker = await newTappedLocker({
        onReply: (script) => {
          if (script === 'mutex-acquire') controller.abort(new Error('gave up as it came'));
        },
      });
      const name = fresh('abort-reply');
      await assert.rejects(
        locker.acquire(name, { signal: controller.signal }),
        /gave up as it came/,
      );
      const state = await locker.inspect(name);
      assert.equal(state.locked, false, 'the lock was given back');
      // The winning attempt drew a token; the next acquisition draws a larger one.
      const drawn = state.lastFencingToken;
      assert.ok(drawn !== null && drawn > 0, `a token was drawn (${drawn})`);
      const next = await locker.acquire(name);
      assert.ok(next.fencingToken > drawn, `fencing token ${next.fencingToken} after ${drawn}`);
      await next.release();
    });

    it('Locker › acquire › a signal aborted in the turn a grant arrives passes the lock on to the next waiter', async () => {
      const holderLocker = await newLocker();
      const nextLocker = await newLocker();
      const controller = new AbortController();
      let grantedFence = 0;
      // The grant message ("<token> <fence> …") is delivered, then the caller aborts in the same turn.
      const locker = await newTappedLocker({
        onMessage: (message) => {
          grantedFence ||= Number(message.split(' ')[1]);
          controller.abort(new Error('gave up as the grant came'));
        },
      });
      const name = fresh('abort-grant');
      const holder = await holderLocker.acquire(name, { ttlMs: 30_000 });
      const granted = locker.acquire(name, { signal: controller.signal, ttlMs: 30_000 });
      const rejected = assert.rejects(granted, /gave up as the grant came/);
      await queued(holderLocker, name, 1);
      const next = nextLocker.acquire(name, { ttlMs: 30_000, waitMs: 10_000 });
      await queued(holderLocker, name, 2);
      assert.equal((await holderLocker.inspect(name)).waiters, 2);
      await holder.release();
      await settlesWithin(rejected, 5_000, 'rejection of the aborted acquire');
      const lock = await settlesWithin(next, 5_000, 'hand-over to the next waiter');
      // A token went to the aborted caller's grant, a larger one to the next waiter.
      assert.ok(grantedFence > holder.fencingToken, `grant's fence ${grantedFence}`);
      assert.ok(lock.fencingToken > grantedFence, `next waiter's fence ${lock.fencingToken}`);
      assert.equal((await nextLocker.inspect(name)).token, lock.token);
      await lock.release();
    });

    it('Locker › acquire › a waiter in another locker is woken by the release, not by polling', async () => {
      const holderLocker = await newLocker();
      const waiterLocker = await newLocker();
      const name = fresh('wake');
      const holder = await holderLocker.acquire(name, { ttlMs: 30_000 });
      const waiting = waiterLocker.acquire(name, { ttlMs: 30_000, waitMs: 20_000 });
      await queued(holderLocker, name, 1);
      const state = await holderLocker.inspect(name);
      assert.equal(state.waiters, 1);
      const releasedAt = performance.now();
      await holder.release();
      const next = await settlesWithin(waiting, 5_000, 'hand-over');
      // Without the wake-up the waiter would sleep for the holder's 30 s PTTL.
      assert.ok(performance.now() - releasedAt < 5_000);
      assert.ok(next.fencingToken > holder.fencingToken);
      await next.release();
    });

    it('Locker › acquire › a waiter granted the lock holds it for its full ttl, with a larger fencing token', async () => {
      const a = await newLocker();
      const b = await newLocker();
      const name = fresh('grant');
      const holder = await a.acquire(name, { ttlMs: 5_000 });
      const waiting = b.acquire(name, { ttlMs: 5_000, waitMs: 10_000 });
      await queued(a, name, 1);
      await holder.release();
      const next = await settlesWithin(waiting, 3_000, 'grant');
      assert.ok(next.fencingToken > holder.fencingToken);
      assert.equal((await a.inspect(name)).lastFencingToken, next.fencingToken);
      // The claim (an extension to the full ttl) runs in the background within the claim window.
      await claimedPttl(mutexKeys(PREFIX, name).lock, 4_000);
      const state = await a.inspect(name);
      assert.equal(state.token, next.token);
      assert.ok(state.remainingMs > 4_000, `remaining ${state.remainingMs} ms`);
      assert.ok(next.remainingMs > 4_000);
      await next.release();
    });

    it('Locker › acquire › waiters are served in arrival order', async () => {
      const locker = await newLocker();
      const others = await Promise.all([newLocker(), newLocker(), newLocker()]);
      const name = fresh('fifo');
      const holder = await locker.acquire(name);
      const order: number[] = [];
      const waits: Promise<void>[] = [];
      for (const [index, other] of others.entries()) {
        waits.push(
          other.acquire(name, { waitMs: 20_000 }).then(async (lock) => {
            order.push(index);
            await sleep(5);
            await lock.release();
          }),
        );
        await queued(locker, name, index + 1); // make arrival order unambiguous
      }
      await holder.release();
      await settlesWithin(Promise.all(waits), 10_000, 'all waiters served');
      assert.deepEqual(order, [0, 1, 2]);
    });

    it('Locker › acquire › a granted lock is handed over without a round trip and claimed for its ttl by one extension within the claim window', async () => {
      const locker = await newLocker();
      const name = fresh('grant-ttl');
      const holder = await locker.acquire(name);
      const waiting = locker.acquire(name, { ttlMs: 8_000 });
      await queued(locker, name, 1);
      await server.command('CONFIG', 'RESETSTAT');
      await holder.release();
      const lock = await settlesWithin(waiting, 2_000, 'granted waiter');
      // Held for the grant's claim window until the holder claims it, within half of it.
      const key = mutexKeys(PREFIX, name).lock;
      const windowPttl = Number(await server.command('PTTL', key));
      assert.ok(windowPttl <= 500, `the grant holds for the claim window (PTTL ${windowPttl})`);
      const pttl = await claimedPttl(key, 7_500);
      assert.ok(pttl > 7_500, `the claim gave the waiter its own ttl (PTTL ${pttl})`);
      const stats = String(await server.command('INFO', 'commandstats'));
      assert.equal(
        /cmdstat_evalsha:calls=(\d+)/.exec(stats)?.[1],
        '2',
        "the release and the new holder's claim ran, nothing more",
      );
      assert.ok(lock.remainingMs > 7_000, `remainingMs ${lock.remainingMs}`);
      await lock.release();
    });

    it('Locker › acquire › a lock granted after a long wait is extended at once', async () => {
      const locker = await newLocker();
      const name = fresh('grant-late');
      const holder = await locker.acquire(name, { ttlMs: 5_000, autoRefresh: false });
      // The waiter's only attempt is its first: its grant's validity counts from there.
      const waiting = locker.acquire(name, { ttlMs: 1_000 });
      await sleep(750);
      await holder.release();
      const lock = await settlesWithin(waiting, 2_000, 'granted waiter');
      // Counted from the waiter's attempt, ~250 ms were left; without an extension at once
      // the first refresh (at 333 ms) would come too late.
      await sleep(400);
      assert.ok(lock.isHeld, 'still held');
      assert.ok(lock.remainingMs > 300, `remainingMs ${lock.remainingMs}`);
      await lock.release();
    });

    it('Locker › acquire › a granted lock with a late first refresh (refreshMs near ttlMs) is extended at once', async () => {
      const locker = await newLocker();
      const name = fresh('grant-late-refresh');
      const holder = await locker.acquire(name, { ttlMs: 5_000, autoRefresh: false });
      const waiting = locker.acquire(name, { ttlMs: 1_000, refreshMs: 700 });
      await sleep(400);
      await holder.release();
      const lock = await settlesWithin(waiting, 2_000, 'granted waiter');
      // ~600 ms of validity were left, and the first refresh is due in 700 ms.
      await sleep(750);
      assert.ok(lock.isHeld, 'still held after the first refresh was due');
      await lock.release();
    });

    /**
     * A waiter that queued and then died with its process: its entry is live, but nobody listens
     * on its channel any more. Without the subscriber check the lock would sit granted to the
     * ghost for its ttl (10 s).
     */
    async function deadWaiterIsSkipped(label: string, withinMs: number): Promise<void> {
      const locker = await newLocker();
      const name = fresh(label);
      const keys = mutexKeys(PREFIX, name);
      const holder = await locker.acquire(name, { ttlMs: 10_000 });
      await queueWaiter(keys, 'f'.repeat(32), {
        arrival: 1,
        liveForMs: 60_000,
        ttlMs: 10_000,
        channel: `latchkey:wake:gone:${keys.lock}`,
      });
      const waiting = locker.acquire(name, { ttlMs: 10_000, waitMs: 20_000 });
      await queued(locker, name, 2); // the forged entry and ours
      await holder.release();
      const next = await settlesWithin(waiting, withinMs, 'acquire after a dead waiter');
      assert.ok(next.fencingToken > holder.fencingToken);
      const state = await locker.inspect(name);
      assert.equal(state.token, next.token);
      assert.equal(state.waiters, 0, 'the ghost left the queue');
      await next.release();
    }

    it('Locker › acquire › a queued waiter whose process is gone (no one on its channel) is skipped at once', () =>
      deadWaiterIsSkipped('dead-waiter', 1_000));

    it('Locker › acquire › a dead waiter is skipped at once also while a client listens to every channel by pattern', async () => {
      // PUBLISH would count the pattern listener as a receiver of the ghost's grant.
      const listener = await patternListener(server.url);
      try {
        await deadWaiterIsSkipped('dead-waiter-pattern', 3_000);
      } finally {
        listener.close();
      }
    });

    it('Locker › acquire › a grant to a waiter that no longer waits lapses after its ttl and the lock moves on', async () => {
      const locker = await newLocker();
      const name = fresh('gone-waiter');
      const keys = mutexKeys(PREFIX, name);
      const holder = await locker.acquire(name, { ttlMs: 300 });
      // A waiter whose process still listens, but that left without withdrawing its entry
      // (the withdrawal failed): the grant reaches a process that ignores it.
      const connection = await target.connect(server.url);
      connections.push(connection);
      const listener = await connection.adapter.createSubscriber();
      // With the lock key in it, as every wake channel on a Cluster: in the lock's slot.
      const channel = `latchkey:wake:${fresh('ignored')}:${keys.lock}`;
      await listener.subscribe(channel, () => {});
      try {
        const ghost = 'e'.repeat(32);
        await queueWaiter(keys, ghost, { arrival: 1, liveForMs: 60_000, ttlMs: 200, channel });
        const waiting = locker.acquire(name, { ttlMs: 300, waitMs: 10_000 });
        await queued(locker, name, 2);
        await holder.release();
        assert.equal((await locker.inspect(name)).token, ghost, 'granted to the waiter that left');
        // The real waiter polls for its process at the grant's expiry and takes the lock.
        const next = await settlesWithin(waiting, 3_000, 'acquire after the lapsed grant');
        assert.ok(next.fencingToken > holder.fencingToken);
        await next.release();
      } finally {
        await listener.close();
      }
    });

    it(
      "Locker › acquire › of one process's waiters for a lock only the oldest polls Redis while they wait",
      async () => {
        const locker = await newLocker();
        const name = fresh('one-poller');
        // The holder keeps a short key alive (refreshed every 100 ms), so a waiter that polled at
        // every expiry would send about 5 attempts a second.
        const holder = await locker.acquire(name, { ttlMs: 300 });
        const waiters = Array.from({ length: 20 }, () =>
          locker.acquire(name, { ttlMs: 10_000, waitMs: 20_000 }),
        );
        await queued(locker, name, 20);
        await server.command('CONFIG', 'RESETSTAT');
        await sleep(1_500);
        const stats = String(await server.command('INFO', 'commandstats'));
        const scriptRuns = Number(/cmdstat_evalsha:calls=(\d+)/.exec(stats)?.[1] ?? 0);
        // About 15 extensions by the holder and about 5 polls by the oldest waiter; 20 polling
        // waiters would add about 100.
        assert.ok(scriptRuns < 40, `${scriptRuns} script runs in 1.5 s`);
        await holder.release();
        // They still all get the lock, one after another, in the order they queued.
        let lastFence = holder.fencingToken;
        for (const waiting of waiters) {
          const lock = await settlesWithin(waiting, 5_000, 'queued waiter');
          assert.ok(lock.fencingToken > lastFence, 'granted in queue order');
          lastFence = lock.fencingToken;
          await lock.release();
        }
      },
      SLOW,
    );

    it('Locker › acquire › when the polling waiter gives up, the next one polls and takes over from a crashed holder', async () => {
      const locker = await newLocker();
      const name = fresh('poller-leaves');
      const keys = mutexKeys(PREFIX, name);
      // A holder that crashed: its key runs out in 600 ms and nobody releases it.
      await server.command('SET', keys.lock, 'd'.repeat(32), 'PX', 600);
      const first = locker.acquire(name, { waitMs: 200 });
      const second = locker.acquire(name, { waitMs: 8_000 });
      await assert.rejects(first, LockTimeoutError);
      const started = Date.now();
      // Without taking over the polling it would sleep until its wait ends, 8 s from now.
      const lock = await settlesWithin(second, 2_000, 'the waiter that took over the polling');
      assert.ok(Date.now() - started < 2_000);
      await lock.release();
    });

    it('Locker › acquire › waiters that do not poll get back in line after the queue is lost (FLUSHALL)', async () => {
      const locker = await newLocker();
      const name = fresh('queue-lost');
      const holder = await locker.acquire(name, { ttlMs: 400, autoRefresh: false });
      const waiters = [0, 1, 2].map(() => locker.acquire(name, { waitMs: 10_000 }));
      await sleep(100);
      await server.command('FLUSHALL'); // the lock, the queue and every entry are gone
      assert.equal((await holder.release()).outcome, 'expired');
      // The oldest waiter polls at the old holder's expiry and takes the free lock; the next
      // polls while it holds, finds its entry gone and has the last one look again, so each
      // is granted in turn and nobody sleeps out the 10 s holder's PTTL or waitMs.
      for (const waiting of waiters) {
        const lock = await settlesWithin(waiting, 3_000, 'waiter after the queue was lost');
        await sleep(300);
        assert.equal((await lock.release()).outcome, 'released');
      }
    });

    it('Locker › acquire › queue entries of waiters that stopped refreshing are skipped at release', async () => {
      const locker = await newLocker();
      const name = fresh('stale-entry');
      const keys = mutexKeys(PREFIX, name);
      const holder = await locker.acquire(name);
      for (let i = 0; i < 5; i++) {
        const ghost = String(i).repeat(32);
        await queueWaiter(keys, ghost, {
          arrival: i,
          liveForMs: -60_000,
          ttlMs: 200,
          channel: `latchkey:wake:nobody:${keys.lock}`,
        });
      }
      await holder.release();
      const state = await locker.inspect(name);
      assert.equal(state.locked, false, 'expired entries must not get a grant');
      assert.equal(state.waiters, 0);
    });

    it('Locker › acquire › a retry strategy spins instead of queueing, and maxAttempts bounds it', async () => {
      const locker = await newLocker();
      const name = fresh('retry');
      const holder = await locker.acquire(name);
      const spinning = locker.acquire(name, { retry: fixedDelay(20), waitMs: 5_000 });
      await sleep(60);
      assert.equal((await locker.inspect(name)).waiters, 0, 'spinners do not join the queue');
      await holder.release();
      const lock = await settlesWithin(spinning, 3_000, 'spinning acquire');
      await assert.rejects(locker.acquire(name, { retry: maxAttempts(3, fixedDelay(10)) }), {
        code: LOCK_ERROR_CODES.timeout,
      });
      await lock.release();
    });

    it('Locker › acquire › 256 locks at once, each on its own key', async () => {
      const locker = await newLocker();
      const names = Array.from({ length: 256 }, (_, i) => fresh(`many-${i}`));
      const locks = await Promise.all(names.map((name) => locker.acquire(name)));
      assert.equal(new Set(locks.map((lock) => lock.token)).size, 256);
      const results = await Promise.all(locks.map((lock) => lock.release()));
      assert.ok(results.every((result) => result.released));
    });
  });
}

/**
 * Waits until `count` waiters are in the lock's line: a waiter queues once its locker's subscriber
 * is up, which takes a connection set-up (longer through Sentinel or on a Cluster).
 */
function queued(
  locker: { inspect(name: string): Promise<{ readonly waiters: number }> },
  name: string,
  count: number,
): Promise<void> {
  return until(
    `${count} waiter(s) queued`,
    async () => (await locker.inspect(name)).waiters >= count,
  );
}
