/**
 * What the Lua scripts write and tell, checked on a real redis-server: the grant message exists only
 * for a token the release wrote, its numbers are exact, a grant picked up after the fencing counter
 * was lost still yields a token, a release run twice reports released both times, and queue
 * entries and keys live no longer than the waiter keeps refreshing them. Runs on ioredis only:
 * what is checked here is decided by the scripts, not by the adapter.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromIORedis } from '../../src/backends/redis/adapters/ioredis.js';
import { RedisSession } from '../../src/backends/redis/backend.js';
import { type MutexKeys, mutexKeys } from '../../src/backends/redis/keys.js';
import { ScriptRunner } from '../../src/backends/redis/script-runner.js';
import {
  GRANT_CLAIM_MS,
  mutexAcquire,
  mutexExtend,
  mutexRelease,
  QUEUE_MODE,
} from '../../src/backends/redis/scripts/index.js';
import { type AcquireContext, acquire } from '../../src/core/acquire-loop.js';
import { Locker } from '../../src/locker.js';
import { resolveLockerOptions, resolveLockOptions } from '../../src/options.js';
import { type RedisServer, startRedis } from '../helpers/redis-server.js';

const PREFIX = 'latchkey:';
/**
 * A last fencing token above the server clock in µs (4 × 10^15 µs is in 2096), so the next token
 * is exactly one more: the case where precision above 10^14 shows.
 */
const FENCE_15 = 4 * 10 ** 15;

let server: RedisServer;
const clients: Redis[] = [];
const lockers: Locker[] = [];
let runner: ScriptRunner;
let counter = 0;
const fresh = (label: string) => `${label}:${++counter}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** A wait the test awaits later: if the test fails first, its rejection is not unhandled. */
function pending<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}

function client(port = server.port): Redis {
  const redis = new Redis(port, { lazyConnect: false });
  redis.on('error', () => {});
  clients.push(redis);
  return redis;
}

function locker(): Locker {
  const made = new Locker(fromIORedis(client()));
  lockers.push(made);
  return made;
}

async function serverNowMicros(): Promise<number> {
  const [seconds, micros] = (await server.command('TIME')) as [string, string];
  return Number(seconds) * 1_000_000 + Number(micros);
}

async function serverNowMs(): Promise<number> {
  const [seconds, micros] = (await server.command('TIME')) as [string, string];
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
}

/** Queues `token` by hand in the scripts' format, live for a minute, woken on `channel`. */
async function queueByHand(
  keys: MutexKeys,
  token: string,
  channel: string,
  ttlMs = 5_000,
  arrival = 1,
) {
  await server.command('ZADD', keys.queue, arrival, token);
  await server.command(
    'HSET',
    keys.waiters,
    token,
    `${(await serverNowMs()) + 60_000} ${ttlMs} 1 ${channel}`,
  );
}

/** A subscriber on `channel` (of `port`'s server) that records the messages it gets. */
async function listen(channel: string, port = server.port): Promise<string[]> {
  const messages: string[] = [];
  const subscriber = client(port);
  subscriber.on('message', (_channel: string, message: string) => messages.push(message));
  await subscriber.subscribe(channel);
  return messages;
}

async function until(what: string, check: () => Promise<boolean>, ms = 5_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`${what} did not happen within ${ms} ms`);
    await sleep(20);
  }
}

const queued = (keys: MutexKeys, count: number) => async () =>
  Number(await server.command('ZCARD', keys.queue)) >= count;

/** The waiter entries of a lock: token -> live-until, attempt. */
async function entries(
  keys: MutexKeys,
): Promise<Map<string, { liveUntil: number; attempt: number }>> {
  const flat = (await server.command('HGETALL', keys.waiters)) as string[];
  const result = new Map<string, { liveUntil: number; attempt: number }>();
  for (let i = 0; i < flat.length; i += 2) {
    const [liveUntil, , attempt] = (flat[i + 1] as string).split(' ');
    result.set(flat[i] as string, { liveUntil: Number(liveUntil), attempt: Number(attempt) });
  }
  return result;
}

/** Runs mutex-acquire for `token` as a queued waiter's next attempt would. */
function attempt(keys: MutexKeys, token: string) {
  return runner.run(mutexAcquire, keys, {
    token,
    ttlMs: 5_000,
    queueMode: QUEUE_MODE.queued,
    sleepCapMs: 1_000,
    graceMs: 2_000,
    channel: 'latchkey:wake:nobody',
    attempt: 2,
    polls: true,
    queueLifeMs: 22_000,
  });
}

beforeAll(async () => {
  server = await startRedis();
  runner = new ScriptRunner(fromIORedis(client()), 2_000);
});

afterAll(async () => {
  await Promise.allSettled(lockers.map((made) => made.close()));
  for (const redis of clients) redis.disconnect();
  await server?.stop();
});

describe('scripts › grant messages', () => {
  it('scripts › grant › a waiter gets a fencing token above 10^14 exactly, from the message', async () => {
    const a = locker();
    const b = locker();
    const name = fresh('big-fence');
    const keys = mutexKeys(PREFIX, name);
    const holder = await a.acquire(name, { ttlMs: 10_000 });
    const waiting = pending(b.acquire(name, { ttlMs: 10_000, waitMs: 10_000 }));
    await until('the waiter queued', queued(keys, 1));
    await server.command('SET', keys.fence, FENCE_15);
    await server.command('CONFIG', 'RESETSTAT');
    await holder.release();
    const next = await waiting;
    await until(
      'the grant was claimed',
      async () => Number(await server.command('PTTL', keys.lock)) > 9_000,
    );
    // The release and the claim ran: the waiter took the number from the message, not from
    // another attempt.
    const stats = String(await server.command('INFO', 'commandstats'));
    expect(/cmdstat_evalsha:calls=(\d+)/.exec(stats)?.[1]).toBe('2');
    expect(next.fencingToken).toBe(FENCE_15 + 1);
    expect(Number(await server.command('GET', keys.fence))).toBe(FENCE_15 + 1);
    await next.release();
  });

  it('scripts › grant › a grant picked up by the next attempt gives the same token above 10^14', async () => {
    const keys = mutexKeys(PREFIX, fresh('big-fence-reply'));
    const holder = 'a'.repeat(32);
    const waiter = 'b'.repeat(32);
    const channel = `latchkey:wake:${fresh('listener')}`;
    const messages = await listen(channel);
    await server.command('SET', keys.lock, holder, 'PX', 10_000);
    await server.command('SET', keys.fence, FENCE_15);
    await queueByHand(keys, waiter, channel);
    expect(await runner.run(mutexRelease, keys, { token: holder, withdraw: false })).toBe(
      'handed-over',
    );
    expect(await attempt(keys, waiter)).toEqual({ kind: 'acquired', fencingToken: FENCE_15 + 1 });
    await until('the message arrived', async () => messages.length > 0);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatch(new RegExp(`^${waiter} ${FENCE_15 + 1} 1 500 \\d{16}$`));
  });

  it('scripts › grant › a grant picked up after the fencing counter was lost draws a new token from the server clock, above the lost ones', async () => {
    const keys = mutexKeys(PREFIX, fresh('lost-fence'));
    const holder = 'a'.repeat(32);
    const waiter = 'c'.repeat(32);
    const channel = `latchkey:wake:${fresh('listener')}`;
    await listen(channel); // the waiter's process is alive, but the message is not what is tested
    await server.command('SET', keys.lock, holder, 'PX', 10_000);
    await server.command('SET', keys.fence, 41);
    await queueByHand(keys, waiter, channel);
    expect(await runner.run(mutexRelease, keys, { token: holder, withdraw: false })).toBe(
      'handed-over',
    );
    await server.command('DEL', keys.fence); // evicted, or FLUSHALL
    const before = await serverNowMicros();
    const picked = await attempt(keys, waiter);
    expect(picked).toMatchObject({ kind: 'acquired' });
    const fence = (picked as { fencingToken: number }).fencingToken;
    expect(fence).toBeGreaterThanOrEqual(before);
    expect(fence).toBeLessThanOrEqual(await serverNowMicros());
    expect(await server.command('GET', keys.fence)).toBe(String(fence));
    expect(Number(await server.command('PTTL', keys.fence))).toBeGreaterThan(0);
    expect(await server.command('GET', keys.lock)).toBe(waiter);
  });

  it('scripts › grant › a message never reaches a waiter unless the release wrote its token (subscriber on a replica)', async () => {
    // PUBLISH in a script is replicated: a subscriber on a replica hears it although the
    // primary counted no receiver (as other nodes of a Cluster do). The release must not
    // publish a grant it did not make.
    const replica = await startRedis({ args: ['--replicaof', '127.0.0.1', String(server.port)] });
    try {
      await until(
        'the replica linked',
        async () =>
          /master_link_status:up/.test(String(await replica.command('INFO', 'replication'))),
        10_000,
      );
      const primary = fromIORedis(client());
      const onReplica = fromIORedis(client(replica.port));
      const waiterLocker = new Locker({
        runScript: primary.runScript,
        createSubscriber: onReplica.createSubscriber,
      });
      lockers.push(waiterLocker);
      const holderLocker = locker();
      const name = fresh('replica-subscriber');
      const keys = mutexKeys(PREFIX, name);
      const holder = await holderLocker.acquire(name, { ttlMs: 1_000 });
      const waiting = pending(waiterLocker.acquire(name, { ttlMs: 5_000, waitMs: 10_000 }));
      await until('the waiter queued', queued(keys, 1));
      await holder.release();
      // The waiter gets the lock by its own attempt at the old holder's expiry, not from a
      // message about a grant that was never written.
      const lock = await waiting;
      expect(await server.command('GET', keys.lock)).toBe(lock.token);
      expect(await holderLocker.tryAcquire(name)).toBeNull();
      await lock.release();
    } finally {
      await replica.stop();
    }
  }, 30_000);
});

describe('scripts › grant claim window', () => {
  it('scripts › claim › a grant holds the key for the claim window only and tells the next waiter when it lapses', async () => {
    const keys = mutexKeys(PREFIX, fresh('claim-window'));
    const holder = 'a'.repeat(32);
    const first = 'b'.repeat(32);
    const second = 'c'.repeat(32);
    const firstChannel = `latchkey:wake:${fresh('first')}`;
    const secondChannel = `latchkey:wake:${fresh('second')}`;
    const toFirst = await listen(firstChannel);
    const toSecond = await listen(secondChannel);
    await server.command('SET', keys.lock, holder, 'PX', 10_000);
    await queueByHand(keys, first, firstChannel, 5_000, 1);
    await queueByHand(keys, second, secondChannel, 5_000, 2);
    const before = Number(String(await server.command('TIME')).split(',')[0]);
    expect(await runner.run(mutexRelease, keys, { token: holder, withdraw: false })).toBe(
      'handed-over',
    );
    expect(await server.command('GET', keys.lock)).toBe(first);
    const pttl = Number(await server.command('PTTL', keys.lock));
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(GRANT_CLAIM_MS);
    await until('both messages arrived', async () => toFirst.length + toSecond.length === 2);
    const [, fence, afterAttempt, claimMs, grantedAtUs] = (toFirst[0] as string).split(' ');
    expect([afterAttempt, claimMs]).toEqual(['1', String(GRANT_CLAIM_MS)]);
    expect(Math.floor(Number(grantedAtUs) / 1_000_000)).toBeGreaterThanOrEqual(before);
    expect(toSecond).toEqual([`${second} next ${GRANT_CLAIM_MS}`]);

    // Nobody claims it: the window ends, and the next waiter's attempt takes the lock.
    await sleep(GRANT_CLAIM_MS + 20);
    const taken = await attempt(keys, second);
    expect(taken.kind).toBe('acquired');
    expect((taken as { fencingToken: number }).fencingToken).toBeGreaterThan(Number(fence));
    expect(Number(await server.command('ZCARD', keys.queue))).toBe(0);
  });

  it('scripts › claim › a waiter whose ttl is shorter than the window is granted its ttl', async () => {
    const keys = mutexKeys(PREFIX, fresh('claim-short-ttl'));
    const holder = 'a'.repeat(32);
    const waiter = 'b'.repeat(32);
    const channel = `latchkey:wake:${fresh('short')}`;
    const messages = await listen(channel);
    await server.command('SET', keys.lock, holder, 'PX', 10_000);
    await queueByHand(keys, waiter, channel, 200);
    await runner.run(mutexRelease, keys, { token: holder, withdraw: false });
    expect(Number(await server.command('PTTL', keys.lock))).toBeLessThanOrEqual(200);
    await until('the message arrived', async () => messages.length === 1);
    expect((messages[0] as string).split(' ')[3]).toBe('200');
  });
});

describe('scripts › release run twice', () => {
  const holder = 'd'.repeat(32);

  it('scripts › release › a release run again (resent) reports released, after a grant and after a delete', async () => {
    for (const withWaiter of [true, false]) {
      const keys = mutexKeys(PREFIX, fresh('resent'));
      await server.command('SET', keys.lock, holder, 'PX', 10_000);
      const waiter = 'e'.repeat(32);
      if (withWaiter) {
        const channel = `latchkey:wake:${fresh('listener')}`;
        await listen(channel);
        await queueByHand(keys, waiter, channel);
      }
      const release = { token: holder, withdraw: false, tombstoneMs: 2_000 };
      expect(await runner.run(mutexRelease, keys, release)).toBe(
        withWaiter ? 'handed-over' : 'released',
      );
      expect(await runner.run(mutexRelease, keys, release)).toBe('released');
      // Also once someone else took the free lock meanwhile, and nothing of theirs is touched.
      if (!withWaiter) await server.command('SET', keys.lock, waiter, 'PX', 10_000);
      expect(await runner.run(mutexRelease, keys, release)).toBe('released');
      expect(await server.command('GET', keys.lock)).toBe(waiter);
      const tombstone = `${keys.lock}:released:${holder}`;
      const pttl = Number(await server.command('PTTL', tombstone));
      expect(pttl).toBeGreaterThan(0);
      expect(pttl).toBeLessThanOrEqual(2_000);
    }
  });

  it('scripts › release › a token that never held the lock still gets missing or other-token', async () => {
    const keys = mutexKeys(PREFIX, fresh('never-held'));
    await server.command('SET', keys.lock, holder, 'PX', 10_000);
    const release = { token: holder, withdraw: false, tombstoneMs: 2_000 };
    expect(await runner.run(mutexRelease, keys, release)).toBe('released');
    const stranger = { token: 'f'.repeat(32), withdraw: false, tombstoneMs: 2_000 };
    expect(await runner.run(mutexRelease, keys, stranger)).toBe('missing');
    await server.command('SET', keys.lock, '0'.repeat(32), 'PX', 10_000);
    expect(await runner.run(mutexRelease, keys, stranger)).toBe('other-token');
  });

  it('scripts › release › a release without a tombstone window leaves none', async () => {
    const keys = mutexKeys(PREFIX, fresh('no-tombstone'));
    await server.command('SET', keys.lock, holder, 'PX', 10_000);
    const release = { token: holder, withdraw: true };
    expect(await runner.run(mutexRelease, keys, release)).toBe('released');
    expect(await server.command('EXISTS', `${keys.lock}:released:${holder}`)).toBe(0);
    expect(await runner.run(mutexRelease, keys, release)).toBe('missing');
  });
});

describe('scripts › queue entries are renewed and bounded', () => {
  it('scripts › queue › entries of endless waits live a renew period, and the queue keys expire', async () => {
    const a = locker();
    const b = locker();
    const name = fresh('endless');
    const keys = mutexKeys(PREFIX, name);
    const holder = await a.acquire(name, { ttlMs: 30_000 });
    // The first of b's waiters polls for its process; the second sleeps until granted.
    const waits = [0, 1].map(() =>
      pending(b.acquire(name, { ttlMs: 5_000, waitMs: Number.POSITIVE_INFINITY })),
    );
    await until('both waiters queued', queued(keys, 2));
    const now = await serverNowMs();
    // Renew period (20 s) plus grace (2 s): past that, an entry not refreshed is dead.
    const bound = 22_000;
    const live = await entries(keys);
    expect(live.size).toBe(2);
    for (const { liveUntil } of live.values()) {
      expect(liveUntil).toBeGreaterThan(now);
      expect(liveUntil).toBeLessThanOrEqual(now + bound);
    }
    for (const key of [keys.queue, keys.waiters]) {
      const pttl = Number(await server.command('PTTL', key));
      expect(pttl, key).toBeGreaterThan(0);
      expect(pttl, key).toBeLessThanOrEqual(bound);
    }
    await holder.release();
    for (const waiting of waits) await (await waiting).release();
  });

  it('scripts › queue › endless waiters refresh their entries each renew period and still get the lock', async () => {
    const adapter = fromIORedis(client());
    const closed = new AbortController();
    const session = new RedisSession(
      adapter,
      { prefix: PREFIX, commandTimeoutMs: 2_000 },
      closed.signal,
    );
    const waitRunner = session.runner;
    const renewMs = 300;
    const context: AcquireContext = {
      session,
      closed: closed.signal,
      queueRenewMs: renewMs,
      driftFactor: 0.01,
    };
    const options = resolveLockOptions(resolveLockerOptions({}), {
      ttlMs: 5_000,
      waitMs: Number.POSITIVE_INFINITY,
    });
    const name = fresh('renewed');
    const keys = mutexKeys(PREFIX, name);
    const holderLocker = locker();
    try {
      const holder = await holderLocker.acquire(name, { ttlMs: 30_000 });
      // One polls for the process (at the holder's expiry, 30 s away), one does not poll.
      const first = pending(acquire(context, session.mutex(name), options, undefined));
      await until('the first waiter queued', queued(keys, 1));
      const second = pending(acquire(context, session.mutex(name), options, undefined));
      await until('the second waiter queued', queued(keys, 2));
      // Longer than an entry lives without a refresh (renew + grace = 2.3 s).
      await sleep(3_000);
      // A refresh may land between the reads: bound each side by the server time on that side.
      const before = await serverNowMs();
      const live = await entries(keys);
      const after = await serverNowMs();
      expect(live.size).toBe(2);
      for (const { liveUntil, attempt } of live.values()) {
        expect(liveUntil).toBeGreaterThan(before);
        expect(liveUntil).toBeLessThanOrEqual(after + renewMs + 2_000);
        expect(attempt, 'refreshed several times').toBeGreaterThanOrEqual(4);
      }
      expect(Number(await server.command('PTTL', keys.queue))).toBeLessThanOrEqual(renewMs + 2_000);
      await holder.release();
      // Granted by the release's message, or found granted by a refresh that was in flight when
      // the release ran (every 300 ms here): either way the lock is theirs, in arrival order.
      const granted = await first;
      // Claimed as a locker's handle would (this loop runs without one): a grant held for its
      // claim window only would pass to the second waiter when the window ends.
      const claim = { token: granted.token, ttlMs: 5_000 };
      expect(await waitRunner.run(mutexExtend, keys, claim)).toMatchObject({ kind: 'extended' });
      expect(await server.command('GET', keys.lock)).toBe(granted.token);
      await waitRunner.run(mutexRelease, keys, { token: granted.token, withdraw: false });
      const next = await second;
      expect(await server.command('GET', keys.lock)).toBe(next.token);
      expect(next.fencingToken).toBeGreaterThan(granted.fencingToken);
      await waitRunner.run(mutexRelease, keys, { token: next.token, withdraw: false });
    } finally {
      closed.abort(new Error('test over'));
      await session.close();
    }
  }, 20_000);

  it('scripts › queue › a waiter that polls many times still takes the grant that follows its latest attempt', async () => {
    const a = locker();
    const b = locker();
    const name = fresh('many-polls');
    const keys = mutexKeys(PREFIX, name);
    // A short key that the holder keeps refreshing: the waiter polls at each expiry it is told.
    const holder = await a.acquire(name, { ttlMs: 150 });
    const waiting = pending(b.acquire(name, { ttlMs: 5_000, waitMs: 20_000 }));
    await until(
      'the waiter polled ten times',
      async () => [...(await entries(keys)).values()].some(({ attempt }) => attempt >= 10),
      10_000,
    );
    await holder.release();
    const lock = await waiting;
    expect(lock.fencingToken).toBeGreaterThan(holder.fencingToken);
    expect(await server.command('GET', keys.lock)).toBe(lock.token);
    // Granted for the claim window, then claimed for its ttl.
    await until('the grant was claimed', async () => lock.remainingMs > 4_000, 2_000);
    await lock.release();
  });
});

describe('locker › the subscriber connection', () => {
  /** Gates still shut: opened before the lockers close, so that closing never waits on one. */
  const gates: (() => void)[] = [];
  afterAll(() => {
    for (const open of gates) open();
  });

  /** A locker whose subscriber opens only when `open()` is called; counts acquire scripts run. */
  function gatedLocker() {
    const adapter = fromIORedis(client());
    let open = () => {};
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    let acquireScripts = 0;
    const made = new Locker(
      {
        runScript: (script, keys, args, deadline) => {
          if (script.name === 'mutex-acquire') acquireScripts++;
          return adapter.runScript(script, keys, args, deadline);
        },
        createSubscriber: async () => {
          await gate;
          return adapter.createSubscriber();
        },
      },
      // Longer than the test may take: a locker that waits for the subscriber waits for the gate
      // (it would give up on it only after this).
      { commandTimeoutMs: 60_000 },
    );
    lockers.push(made);
    gates.push(open);
    return { locker: made, open, acquireScripts: () => acquireScripts };
  }

  it('locker › subscriber › an acquire that finds the lock free does not wait for the subscriber to open', async () => {
    const { locker: made, open } = gatedLocker();
    const name = fresh('cold-free');
    // The subscriber cannot open until the end of the test: the acquire must not need it.
    const lock = await made.acquire(name, { ttlMs: 5_000, waitMs: 5_000 });
    expect(await server.command('GET', mutexKeys(PREFIX, name).lock)).toBe(lock.token);
    await lock.release();
    open();
  });

  it('locker › subscriber › a first acquire that finds the lock held queues only once subscribed, and gets the hand-over', async () => {
    const { locker: made, open, acquireScripts } = gatedLocker();
    const name = fresh('cold-held');
    const keys = mutexKeys(PREFIX, name);
    const holder = await locker().acquire(name, { ttlMs: 10_000 });
    const waiting = pending(made.acquire(name, { ttlMs: 10_000, waitMs: 10_000 }));
    await until('the first attempt ran', async () => acquireScripts() >= 1);
    await sleep(100);
    // Not subscribed yet: a grant could not reach it, so it is not in line for one.
    expect(Number(await server.command('ZCARD', keys.queue))).toBe(0);
    open();
    await until('the waiter queued', queued(keys, 1));
    const attemptsBefore = acquireScripts();
    await holder.release();
    const lock = await waiting;
    // Handed over by the release's message, not found by another attempt.
    expect(acquireScripts()).toBe(attemptsBefore);
    expect(await server.command('GET', keys.lock)).toBe(lock.token);
    await lock.release();
  });
});
