/** Conformance: holding a mutex (fencing tokens, loss detection, validity in time). */
import assert from 'node:assert/strict';
import { mutexKeys } from '../backends/redis/keys.js';
import { LOCK_ERROR_CODES, LockLostError } from '../errors.js';
import type { SuiteContext } from './context.js';
import type { TestApi } from './types.js';

export function registerMutexHoldTests(api: TestApi, ctx: SuiteContext): void {
  const { describe, it } = api;
  const {
    newLocker,
    fresh,
    sleep,
    settlesWithin,
    secondHolderAfter,
    aborted,
    server,
    PREFIX,
    connections,
    target,
  } = ctx;

  describe('fencing', () => {
    it('Locker › fencing › tokens increase across holders and across expiry of the lock key', async () => {
      const a = await newLocker();
      const b = await newLocker();
      const name = fresh('fence');
      const tokens: number[] = [];
      for (let i = 0; i < 5; i++) {
        const lock = await (i % 2 ? a : b).acquire(name);
        tokens.push(lock.fencingToken);
        await lock.release();
      }
      const expiring = await a.acquire(name, { ttlMs: 100, autoRefresh: false });
      tokens.push(expiring.fencingToken);
      await aborted(expiring.signal);
      await sleep(20);
      assert.equal((await a.inspect(name)).locked, false, 'the key expired');
      const after = await b.acquire(name);
      tokens.push(after.fencingToken);
      await after.release();
      for (let i = 1; i < tokens.length; i++) {
        assert.ok(tokens[i]! > tokens[i - 1]!, `tokens ${tokens.join(',')} must strictly increase`);
      }
    });
  });

  describe('lost locks', () => {
    it('Locker › lost › an external DEL aborts the signal within one refresh interval, reason "expired" as release() says', async () => {
      const locker = await newLocker();
      const name = fresh('del');
      const lock = await locker.acquire(name, { ttlMs: 3_000, refreshMs: 300 });
      await server.command('DEL', mutexKeys(PREFIX, name).lock);
      const deletedAt = performance.now();
      const reason = await settlesWithin(aborted(lock.signal), 300 + 1_000, 'loss signal');
      assert.ok(reason instanceof LockLostError);
      assert.equal(reason.code, LOCK_ERROR_CODES.lost);
      assert.equal(reason.reason, 'expired');
      assert.ok(performance.now() - deletedAt < 1_300);
      assert.equal(lock.isHeld, false);
      await assert.rejects(lock.extend(), { code: LOCK_ERROR_CODES.notHeld });
      assert.deepEqual(await lock.release(), { outcome: 'expired', released: false });
    });

    it('Locker › lost › a key overwritten with another token is reported "taken", by the signal and by release()', async () => {
      const locker = await newLocker();
      const name = fresh('overwritten');
      const lock = await locker.acquire(name, { ttlMs: 3_000, refreshMs: 300 });
      const other = 'f'.repeat(32);
      await server.command('SET', mutexKeys(PREFIX, name).lock, other, 'PX', 3_000);
      const reason = await settlesWithin(aborted(lock.signal), 300 + 1_000, 'loss signal');
      assert.ok(reason instanceof LockLostError);
      assert.equal(reason.reason, 'taken');
      assert.deepEqual(await lock.release(), { outcome: 'taken', released: false });
      assert.equal((await locker.inspect(name)).token, other, 'nothing was deleted');
    });

    // ttl 10 s: the first refresh comes after 3.3 s, so a signal within 1 s came by push. An
    // adapter without a key watcher (it is optional) must still show the loss, at that refresh.
    const PUSHED_WITHIN_MS = 1_000;
    const pushedLoss = async (
      change: (key: string) => Promise<unknown>,
      reason: 'expired' | 'taken',
      what: string,
    ) => {
      const locker = await newLocker();
      const pushes = typeof connections.at(-1)?.adapter.createKeyWatcher === 'function';
      const name = fresh('pushed');
      const lock = await locker.acquire(name, { ttlMs: 10_000 });
      const signal = lock.signal;
      await sleep(50); // the watch is set up
      await change(mutexKeys(PREFIX, name).lock);
      const changedAt = performance.now();
      const lost = await settlesWithin(aborted(signal), 5_000, 'loss signal');
      const ms = performance.now() - changedAt;
      process.stdout.write(
        `[${target.name}] loss by ${pushes ? 'push' : 'refresh'} after ${what}: signal ${ms.toFixed(2)} ms after it\n`,
      );
      assert.ok(lost instanceof LockLostError);
      assert.equal(lost.reason, reason);
      await lock.release();
      const bound = pushes ? PUSHED_WITHIN_MS : 3_333 + 1_000;
      assert.ok(ms < bound, `signal ${ms.toFixed(1)} ms after ${what} (bound ${bound} ms)`);
    };

    it('Locker › lost › a holder listening on its signal learns of a DEL by push, long before its next refresh', async () => {
      await pushedLoss((key) => server.command('DEL', key), 'expired', 'a DEL');
    });

    it('Locker › lost › a holder listening on its signal learns by push that its key was overwritten ("taken")', async () => {
      const other = 'f'.repeat(32);
      await pushedLoss((key) => server.command('SET', key, other, 'PX', 10_000), 'taken', 'a SET');
    });

    it('Locker › lost › a holder listening on its signal learns of a FLUSHALL by push', async () => {
      await pushedLoss(() => server.command('FLUSHALL'), 'expired', 'a FLUSHALL');
    });

    it('Locker › lost › its own refreshes and a hand-over never fire a watched signal', async () => {
      const locker = await newLocker();
      const other = await newLocker();
      const name = fresh('watched-quiet');
      // refreshMs 200: seven refreshes while held, each a change of the key Redis reports.
      const first = await locker.acquire(name, { ttlMs: 600 });
      const firstSignal = first.signal;
      const waiting = other.acquire(name, { ttlMs: 600 });
      await sleep(1_500);
      assert.equal(firstSignal.aborted, false, 'refreshes are not a loss');
      assert.deepEqual(await first.release(), { outcome: 'released', released: true });
      const second = await settlesWithin(waiting, 2_000, 'hand-over');
      const secondSignal = second.signal;
      await sleep(1_000);
      assert.equal(firstSignal.aborted, false, 'a released lock is not lost');
      assert.equal(secondSignal.aborted, false, 'the claim and refreshes are not a loss');
      assert.deepEqual(await second.release(), { outcome: 'released', released: true });
    });

    it('Locker › lost › a user that may not run CLIENT TRACKING still learns of a DEL, at the next refresh', async () => {
      const user = fresh('no-client').replace(/[^a-z0-9-]/gi, '-');
      await server.command('ACL', 'SETUSER', user, 'on', '>pw', '~*', '&*', '+@all', '-client');
      try {
        const url = new URL(server.url);
        url.username = user;
        url.password = 'pw';
        const locker = await newLocker(undefined, url.toString());
        const name = fresh('fallback');
        const lock = await locker.acquire(name, { ttlMs: 1_500 });
        const signal = lock.signal;
        await sleep(50);
        await server.command('DEL', mutexKeys(PREFIX, name).lock);
        const lost = await settlesWithin(aborted(signal), 3_000, 'loss signal at the refresh');
        assert.ok(lost instanceof LockLostError);
        assert.equal(lost.reason, 'expired');
        await lock.release();
      } finally {
        await server.command('ACL', 'DELUSER', user);
      }
    });

    it('Locker › lost › a key watcher not up in time (Redis paused during its set-up) is taken when it comes up', async () => {
      const locker = await newLocker({ commandTimeoutMs: 300 });
      const pushes = typeof connections.at(-1)?.adapter.createKeyWatcher === 'function';
      const name = fresh('late-watcher');
      const lock = await locker.acquire(name, { ttlMs: 10_000 });
      // The watcher's set-up waits behind the pause, past the locker's command timeout.
      await server.command('CLIENT', 'PAUSE', 800, 'ALL');
      const signal = lock.signal;
      await sleep(1_200); // the pause is over, the watcher came up late
      await server.command('DEL', mutexKeys(PREFIX, name).lock);
      const changedAt = performance.now();
      const lost = await settlesWithin(aborted(signal), 5_000, 'loss signal');
      const ms = performance.now() - changedAt;
      assert.ok(lost instanceof LockLostError);
      assert.equal(lost.reason, 'expired');
      await lock.release();
      // By push, long before the next refresh (3.3 s after the acquire, about 1.3 s from here).
      if (pushes) assert.ok(ms < PUSHED_WITHIN_MS, `signal ${ms.toFixed(1)} ms after the DEL`);
    });

    it('Locker › lost › expiry with auto-refresh off aborts the signal at the local deadline', async () => {
      const locker = await newLocker();
      const name = fresh('expire');
      const lock = await locker.acquire(name, { ttlMs: 300, autoRefresh: false });
      const reason = await settlesWithin(aborted(lock.signal), 1_000, 'expiry signal');
      assert.ok(reason instanceof LockLostError);
      assert.equal(reason.reason, 'expired');
      await assert.rejects(lock.extend(), {
        code: LOCK_ERROR_CODES.notHeld,
        name: 'LockNotHeldError',
      });
      await sleep(50);
      assert.equal((await lock.release()).outcome, 'expired');
    });

    it('Locker › lost › release after someone else took the lock reports "taken" and deletes nothing', async () => {
      const locker = await newLocker();
      const name = fresh('taken');
      const stale = await locker.acquire(name, { ttlMs: 150, autoRefresh: false });
      await aborted(stale.signal);
      await sleep(20);
      const current = await locker.acquire(name);
      assert.deepEqual(await stale.release(), { outcome: 'taken', released: false });
      const state = await locker.inspect(name);
      assert.equal(state.token, current.token, "the new holder's key is untouched");
      await current.release();
    });

    it('Locker › auto-refresh › keeps the lock well past its ttl', async () => {
      const locker = await newLocker();
      const name = fresh('refresh');
      const lock = await locker.acquire(name, { ttlMs: 300 });
      await sleep(1_000);
      assert.equal(lock.isHeld, true);
      assert.equal(lock.signal.aborted, false);
      assert.equal(await locker.tryAcquire(name), null);
      assert.equal((await lock.release()).outcome, 'released');
    });

    it('Locker › auto-refresh › stops at maxHoldMs and reports the lock lost', async () => {
      const locker = await newLocker();
      const name = fresh('max-hold');
      // A ttl that leaves a refresh 400 ms of slack under load: the loss must be max-hold's, not
      // an expiry after a late refresh.
      const lock = await locker.acquire(name, { ttlMs: 600, maxHoldMs: 1_000 });
      const started = performance.now();
      const reason = await settlesWithin(aborted(lock.signal), 3_000, 'max-hold loss');
      assert.ok(reason instanceof LockLostError);
      assert.equal(reason.reason, 'max-hold');
      assert.ok(performance.now() - started < 2_000);
      await lock.release();
    });

    it('Locker › extend › pushes the deadline and fails once the lock is gone', async () => {
      const locker = await newLocker();
      const name = fresh('extend');
      const lock = await locker.acquire(name, { ttlMs: 1_000, autoRefresh: false });
      await sleep(300);
      await lock.extend(5_000);
      assert.ok(lock.remainingMs > 4_000);
      await assert.rejects(lock.extend(1.5), { code: LOCK_ERROR_CODES.invalidArgument });
      await lock.release();
      await assert.rejects(lock.extend(), { code: LOCK_ERROR_CODES.notHeld });
    });

    it('Locker › extend › never shortens: extend(200) on a 10 s lock keeps it 10 s on the server and in the handle', async () => {
      const locker = await newLocker();
      const other = await newLocker();
      const name = fresh('extend-shorter');
      const { lock: key } = mutexKeys(PREFIX, name);
      const lock = await locker.acquire(name, { ttlMs: 10_000, autoRefresh: false });
      await lock.extend(200);
      const pttl = Number(await server.command('PTTL', key));
      assert.ok(pttl > 9_000, `PTTL ${pttl} after extend(200)`);
      await sleep(400);
      assert.equal(await other.tryAcquire(name), null, 'no second holder');
      assert.equal(lock.isHeld, true);
      // The handle believes no more than the server has.
      const pttlNow = Number(await server.command('PTTL', key));
      const remaining = lock.remainingMs;
      assert.ok(
        remaining > 8_500 && remaining <= pttlNow,
        `remaining ${remaining}, PTTL ${pttlNow}`,
      );
      // A longer extension does push both up.
      await lock.extend(20_000);
      const longer = Number(await server.command('PTTL', key));
      assert.ok(longer > 19_000, `PTTL ${longer} after extend(20000)`);
      assert.ok(lock.remainingMs > 19_000 && lock.remainingMs <= longer);
      assert.equal((await lock.release()).outcome, 'released');
    });

    it('Locker › extend › a refresh never undoes a longer manual extension, and no one gets in while isHeld', async () => {
      const locker = await newLocker();
      const other = await newLocker();
      const name = fresh('extend-vs-refresh');
      // Refreshes (ttl 1 s) and the last one at maxHoldMs (1.5 s) ask for less than the 3 s
      // extension gave: the lock stays until the server's expiry and is lost only then.
      const lock = await locker.acquire(name, { ttlMs: 1_000, refreshMs: 200, maxHoldMs: 1_500 });
      const started = performance.now();
      await lock.extend(3_000);
      const second = await secondHolderAfter(lock, other, name);
      assert.ok(performance.now() - started > 2_500, 'the 3 s extension held');
      assert.ok(lock.signal.reason instanceof LockLostError);
      assert.equal(lock.signal.reason.reason, 'max-hold');
      await second.release();
    });

    it('Locker › auto-refresh › around maxHoldMs no one gets in while the holder reports isHeld', async () => {
      const locker = await newLocker();
      const other = await newLocker();
      const name = fresh('max-hold-overlap');
      const lock = await locker.acquire(name, { ttlMs: 1_000, refreshMs: 300, maxHoldMs: 1_500 });
      const second = await secondHolderAfter(lock, other, name);
      assert.ok(lock.signal.reason instanceof LockLostError);
      assert.equal(lock.signal.reason.reason, 'max-hold');
      await second.release();
    });
  });

  describe('time', () => {
    it('Locker › time › a reply that arrives after the validity ran out is not a success, and the key is given back', async () => {
      const locker = await newLocker();
      const name = fresh('late-acquire');
      await locker.inspect(name); // the locker's one-time server check, before the pause
      await server.command('CLIENT', 'PAUSE', 600, 'ALL');
      // ttl 200 ms: the reply comes ~600 ms after the command was sent.
      assert.equal(await locker.tryAcquire(name, { ttlMs: 200 }), null);
      await sleep(100); // the give-back runs in the background
      assert.equal((await locker.inspect(name)).locked, false);
    });

    it('Locker › time › an extension whose reply comes after the local deadline fails and the lock is lost', async () => {
      const locker = await newLocker();
      const name = fresh('late-extend');
      const lock = await locker.acquire(name, { ttlMs: 300, autoRefresh: false });
      await server.command('CLIENT', 'PAUSE', 700, 'ALL');
      await assert.rejects(lock.extend(5_000), { code: LOCK_ERROR_CODES.notHeld });
      assert.ok(lock.signal.reason instanceof LockLostError);
      assert.equal(lock.signal.reason.reason, 'expired');
      assert.equal(lock.isHeld, false);
      await lock.release();
    });
  });
}
