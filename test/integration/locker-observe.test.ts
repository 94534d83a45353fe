/**
 * `Locker.observe` and `Locker.forceRelease`, the pieces the `latchkey watch` and `release --force`
 * commands stand on, through both adapters against a real redis-server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCK_ERROR_CODES } from '../../src/errors.js';
import { Locker, type LockState, OBSERVE_POLL_MS } from '../../src/locker.js';
import { connectIORedis, connectNodeRedis } from '../helpers/adapters.js';
import { type RedisServer, startRedis } from '../helpers/redis-server.js';

let server: RedisServer;
beforeAll(async () => {
  server = await startRedis();
});
afterAll(async () => {
  await server?.stop();
});

/** Resolves once `check` passes, polling every 10 ms; rejects after `ms`. */
async function eventually(check: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

for (const [label, connect] of [
  ['ioredis', connectIORedis],
  ['node-redis', connectNodeRedis],
] as const) {
  describe(`Locker › ${label}`, () => {
    let locker: Locker;
    let closeClient: () => Promise<void>;
    let names = 0;
    const fresh = () => `observe-${label}-${++names}`;
    beforeAll(async () => {
      const connected = await connect(server.url);
      locker = new Locker(connected.adapter);
      closeClient = connected.close;
    });
    afterAll(async () => {
      await locker?.close();
      await closeClient?.();
    });

    it(`Locker › observe › ${label} › yields the state now, then an acquisition, a hand-over and a release, the holder's changes pushed`, async () => {
      const name = fresh();
      const stop = new AbortController();
      const seen: { at: number; state: LockState }[] = [];
      const observing = (async () => {
        for await (const state of locker.observe(name, { signal: stop.signal })) {
          seen.push({ at: Date.now(), state });
        }
      })();
      await eventually(() => seen.length === 1);
      expect(seen[0]?.state).toMatchObject({ locked: false, waiters: 0 });
      // Let the key watcher read the key once, so that its next change is pushed.
      await new Promise((resolve) => setTimeout(resolve, 100));

      const acquiredAt = Date.now();
      const first = await locker.acquire(name);
      await eventually(() => seen.some(({ state }) => state.token === first.token));
      const acquired = seen.find(({ state }) => state.token === first.token);
      // Pushed, not found by the poll (which comes OBSERVE_POLL_MS after the last read).
      expect((acquired?.at ?? Infinity) - acquiredAt).toBeLessThan(OBSERVE_POLL_MS / 2);
      expect(acquired?.state).toMatchObject({ locked: true, lastFencingToken: first.fencingToken });

      const waiting = locker.acquire(name, { waitMs: 5_000 });
      await eventually(() => seen.at(-1)?.state.waiters === 1, 2 * OBSERVE_POLL_MS + 1_000);
      await first.release();
      const second = await waiting;
      await eventually(() => seen.at(-1)?.state.token === second.token);
      await second.release();
      await eventually(() => seen.at(-1)?.state.locked === false);
      expect(seen.at(-1)?.state).toMatchObject({ lastFencingToken: second.fencingToken });

      stop.abort();
      await observing; // ends on abort
      const reads = seen.length;
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(seen).toHaveLength(reads);
    });

    it(`Locker › forceRelease › ${label} › hands the lock to the waiter with the next fencing token; the old holder's signal aborts; a token asked for that does not hold it is left alone`, async () => {
      const name = fresh();
      const holder = await locker.acquire(name);
      const lost = holder.signal; // watched by push from here on
      const waiting = locker.acquire(name, { waitMs: 5_000 });
      let waiters = 0;
      const deadline = Date.now() + 5_000;
      while (waiters === 0 && Date.now() < deadline) {
        waiters = (await locker.inspect(name)).waiters;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      expect(waiters).toBe(1);

      expect(await locker.forceRelease(name, { token: 'f'.repeat(32) })).toEqual({
        outcome: 'taken',
        token: holder.token,
        handedOver: false,
      });
      expect(lost.aborted).toBe(false);

      expect(await locker.forceRelease(name)).toEqual({
        outcome: 'released',
        token: holder.token,
        handedOver: true,
      });
      const next = await waiting;
      expect(next.fencingToken).toBeGreaterThan(holder.fencingToken);
      await eventually(() => lost.aborted);
      expect(lost.reason).toMatchObject({ code: LOCK_ERROR_CODES.lost, reason: 'taken' });
      expect((await holder.release()).outcome).toBe('taken');

      expect(await locker.forceRelease(name, { token: next.token })).toMatchObject({
        outcome: 'released',
        handedOver: false,
      });
      expect(await locker.forceRelease(name)).toEqual({
        outcome: 'free',
        token: undefined,
        handedOver: false,
      });
      const after = await locker.acquire(name);
      expect(after.fencingToken).toBeGreaterThan(next.fencingToken);
      await after.release();
      expect((await next.release()).outcome).toBe('expired');
    });

    it(`Locker › forceRelease › ${label} › rejects a bad name or token before sending anything`, async () => {
      await expect(locker.forceRelease('')).rejects.toMatchObject({
        code: LOCK_ERROR_CODES.invalidArgument,
      });
      await expect(locker.forceRelease('x', { token: '' })).rejects.toMatchObject({
        code: LOCK_ERROR_CODES.invalidArgument,
        argument: 'token',
      });
      expect(() => locker.observe('')).toThrow(expect.objectContaining({ argument: 'name' }));
    });
  });
}

it('Locker › observe › ends when the locker closes', async () => {
  const connected = await connectIORedis(server.url);
  const locker = new Locker(connected.adapter);
  const seen: LockState[] = [];
  const observing = (async () => {
    for await (const state of locker.observe('observe-close')) seen.push(state);
  })();
  await eventually(() => seen.length === 1);
  await locker.close();
  await observing;
  await connected.close();
});
