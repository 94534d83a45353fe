import type { Redis } from 'ioredis';
import { createClient } from 'redis';
import { describe, expectTypeOf, it } from 'vitest';
import { createLocker as createIORedisLocker } from '../../src/backends/redis/adapters/ioredis.js';
import { createLocker as createNodeRedisLocker } from '../../src/backends/redis/adapters/node-redis.js';
import {
  type Election,
  exponentialBackoff,
  type Leader,
  type Leadership,
  LOCK_ERROR_CODES,
  type Lock,
  type LockErrorCode,
  type Locker,
  type LockMode,
  type LockState,
  type MultiHold,
  type MultiLock,
  type MultiReleaseResult,
  type Permit,
  type ReadWriteHold,
  type ReadWriteLock,
  type ReadWriteState,
  type ReentrantHold,
  type ReentrantLock,
  type ReentrantState,
  type ReleaseResult,
  type RetryStrategy,
  type Semaphore,
  type SemaphoreState,
  type WriteHold,
} from '../../src/index.js';

declare const locker: Locker;

describe('public types', () => {
  it('adapters accept the real client types', () => {
    expectTypeOf(createIORedisLocker).toBeCallableWith({} as Redis);
    expectTypeOf(createNodeRedisLocker).toBeCallableWith(createClient());
    expectTypeOf(createIORedisLocker({} as Redis)).toEqualTypeOf<Locker>();
  });

  it('acquire resolves to an AsyncDisposable lock; tryAcquire may resolve to null', () => {
    expectTypeOf(locker.acquire('a')).resolves.toEqualTypeOf<Lock>();
    expectTypeOf(locker.tryAcquire('a')).resolves.toEqualTypeOf<Lock | null>();
    expectTypeOf<Lock>().toExtend<AsyncDisposable>();
    expectTypeOf<Lock['fencingToken']>().toEqualTypeOf<number>();
    expectTypeOf<Lock['signal']>().toEqualTypeOf<AbortSignal>();
    expectTypeOf<Lock['release']>().returns.resolves.toEqualTypeOf<ReleaseResult>();
    expectTypeOf<ReleaseResult['outcome']>().toEqualTypeOf<'released' | 'expired' | 'taken'>();
    expectTypeOf(locker.inspect('a')).resolves.toEqualTypeOf<LockState>();
  });

  it('withLock passes the signal and the lock, and returns what the function returns', () => {
    expectTypeOf(
      locker.withLock('a', async (signal, lock) => {
        expectTypeOf(signal).toEqualTypeOf<AbortSignal>();
        expectTypeOf(lock).toEqualTypeOf<Lock>();
        return 42;
      }),
    ).resolves.toEqualTypeOf<number>();
  });

  it('options are typed: durations are numbers, retry is a strategy, tryAcquire takes no waitMs', () => {
    expectTypeOf(locker.acquire).toBeCallableWith('a', {
      ttlMs: 1_000,
      waitMs: Number.POSITIVE_INFINITY,
      retry: exponentialBackoff({ baseMs: 10, maxMs: 100 }),
      signal: AbortSignal.timeout(10),
    });
    // @ts-expect-error: `ttl` is not an option (it is `ttlMs`)
    void locker.acquire('a', { ttl: 1_000 });
    // @ts-expect-error: tryAcquire never waits
    void locker.tryAcquire('a', { waitMs: 10 });
    // @ts-expect-error: a retry strategy must come from the factories
    void locker.acquire('a', { retry: { delayAfter: () => 1 } });
    expectTypeOf<RetryStrategy['kind']>().toEqualTypeOf<string>();
  });

  it('error codes are a closed union of literals', () => {
    expectTypeOf(LOCK_ERROR_CODES.timeout).toEqualTypeOf<'ERR_LOCK_TIMEOUT'>();
    expectTypeOf<LockErrorCode>().toExtend<string>();
  });
});

describe('public types of the other kinds', () => {
  it('a semaphore takes a limit; its permits are locks that know their count', () => {
    const pool = locker.semaphore('pool', { limit: 4 });
    expectTypeOf(pool).toEqualTypeOf<Semaphore>();
    expectTypeOf(pool.acquire({ permits: 2 })).resolves.toEqualTypeOf<Permit>();
    expectTypeOf(pool.tryAcquire()).resolves.toEqualTypeOf<Permit | null>();
    expectTypeOf<Permit>().toExtend<Lock>();
    expectTypeOf<Permit['permits']>().toEqualTypeOf<number>();
    expectTypeOf(pool.inspect()).resolves.toEqualTypeOf<SemaphoreState>();
    expectTypeOf(
      pool.withPermits(async (_signal, permit) => permit.permits),
    ).resolves.toEqualTypeOf<number>();
    // @ts-expect-error: the limit is required
    void locker.semaphore('pool', {});
    // @ts-expect-error: tryAcquire never waits
    void pool.tryAcquire({ waitMs: 10 });
  });

  it('a read-write lock gives read holds and write holds; only a write hold downgrades', () => {
    const lock = locker.readWrite('config');
    expectTypeOf(lock).toEqualTypeOf<ReadWriteLock>();
    expectTypeOf(lock.acquireRead()).resolves.toEqualTypeOf<ReadWriteHold>();
    expectTypeOf(lock.acquireWrite()).resolves.toEqualTypeOf<WriteHold>();
    expectTypeOf(lock.tryAcquireWrite()).resolves.toEqualTypeOf<WriteHold | null>();
    expectTypeOf<ReadWriteHold>().toExtend<Lock>();
    expectTypeOf<ReadWriteHold['mode']>().toEqualTypeOf<LockMode>();
    expectTypeOf<LockMode>().toEqualTypeOf<'read' | 'write'>();
    expectTypeOf<WriteHold['downgrade']>().returns.resolves.toEqualTypeOf<void>();
    expectTypeOf(lock.inspect()).resolves.toEqualTypeOf<ReadWriteState>();
    expectTypeOf(
      lock.withWriteLock(async (_signal, write) => {
        expectTypeOf(write).toEqualTypeOf<WriteHold>();
        return 'x';
      }),
    ).resolves.toEqualTypeOf<string>();
    // @ts-expect-error: a read hold cannot downgrade (nor upgrade)
    void ({} as ReadWriteHold).downgrade();
    // @ts-expect-error: tryAcquireRead never waits
    void lock.tryAcquireRead({ waitMs: 10 });
  });

  it('a reentrant lock takes an owner and gives holds that know it', () => {
    const lock = locker.reentrant('ledger');
    expectTypeOf(lock).toEqualTypeOf<ReentrantLock>();
    expectTypeOf(lock.acquire({ owner: 'job-1' })).resolves.toEqualTypeOf<ReentrantHold>();
    expectTypeOf(lock.tryAcquire()).resolves.toEqualTypeOf<ReentrantHold | null>();
    expectTypeOf<ReentrantHold>().toExtend<Lock>();
    expectTypeOf<ReentrantHold['owner']>().toEqualTypeOf<string>();
    expectTypeOf(lock.inspect()).resolves.toEqualTypeOf<ReentrantState>();
    expectTypeOf(
      lock.withLock(async (_signal, hold) => hold.owner),
    ).resolves.toEqualTypeOf<string>();
    // @ts-expect-error: the owner is a string
    void lock.acquire({ owner: 42 });
  });

  it('a multi-lock takes several names and gives one hold with a token per name', () => {
    const both = locker.multi(['a', 'b']);
    expectTypeOf(both).toEqualTypeOf<MultiLock>();
    expectTypeOf(both.acquire()).resolves.toEqualTypeOf<MultiHold>();
    expectTypeOf(both.tryAcquire()).resolves.toEqualTypeOf<MultiHold | null>();
    expectTypeOf<MultiHold>().toExtend<AsyncDisposable>();
    expectTypeOf<MultiHold['fencingTokens']>().toEqualTypeOf<ReadonlyMap<string, number>>();
    expectTypeOf<MultiHold['release']>().returns.resolves.toEqualTypeOf<MultiReleaseResult>();
    expectTypeOf(both.withLock(async (signal) => signal.aborted)).resolves.toEqualTypeOf<boolean>();
    // @ts-expect-error: names come as an array
    void locker.multi('a');
  });

  it('an election campaigns with a value, reads and observes the leader', () => {
    const election = locker.election('scheduler');
    expectTypeOf(election).toEqualTypeOf<Election>();
    expectTypeOf(election.campaign('host')).resolves.toEqualTypeOf<Leadership>();
    expectTypeOf<Leadership>().toExtend<Lock>();
    expectTypeOf<Leadership['value']>().toEqualTypeOf<string>();
    expectTypeOf<Leadership['resign']>().returns.resolves.toEqualTypeOf<ReleaseResult>();
    expectTypeOf(election.leader()).resolves.toEqualTypeOf<Leader | undefined>();
    expectTypeOf(election.observe()).toExtend<AsyncIterable<Leader | undefined>>();
    // @ts-expect-error: a value is a string
    void election.campaign(42);
  });
});
