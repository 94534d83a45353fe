import type { Redis } from 'ioredis';
import { createClient } from 'redis';
import { describe, expectTypeOf, it } from 'vitest';
import { createLocker as createIORedisLocker } from '../../src/backends/redis/adapters/ioredis.js';
import { createLocker as createNodeRedisLocker } from '../../src/backends/redis/adapters/node-redis.js';
import {
  exponentialBackoff,
  LOCK_ERROR_CODES,
  type Lock,
  type LockErrorCode,
  type Locker,
  type LockState,
  type ReleaseResult,
  type RetryStrategy,
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
