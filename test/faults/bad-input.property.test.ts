/**
 * Bad input (safety.md §6.5, G9), property-based: every invalid lock name or option, for the
 * locker and for each call, is refused with a typed InvalidArgumentError (code
 * ERR_LOCK_INVALID_ARGUMENT, naming the argument), and nothing reaches Redis: the real server
 * behind the lockers still has DBSIZE 0 and ran no script and no SUBSCRIBE.
 */
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocker as createIORedisLocker } from '../../src/backends/redis/adapters/ioredis.js';
import { createLocker as createNodeRedisLocker } from '../../src/backends/redis/adapters/node-redis.js';
import {
  exponentialBackoff,
  InvalidArgumentError,
  LOCK_ERROR_CODES,
  type Locker,
  LockKeyConflictError,
  LockNotHeldError,
  linearBackoff,
  MAX_DURATION_MS,
  MAX_NAME_BYTES,
  maxAttempts,
} from '../../src/index.js';
import { commandCalls, type RedisServer, startRedis } from '../helpers/redis-server.js';

const RUNS = { numRuns: 150 };

/** Values that are not an integer number of ms in [min, MAX_DURATION_MS] (Infinity excluded). */
function badDuration(min: number, { allowInfinity = false } = {}): fc.Arbitrary<unknown> {
  return fc.oneof(
    fc.integer({ min: -1_000_000, max: min - 1 }),
    fc.integer({ min: MAX_DURATION_MS + 1, max: Number.MAX_SAFE_INTEGER }),
    fc.double({ min: -1e9, max: 1e9, noNaN: true }).filter((value) => !Number.isInteger(value)),
    fc.constantFrom(
      Number.NaN,
      Number.NEGATIVE_INFINITY,
      ...(allowInfinity ? [] : [Number.POSITIVE_INFINITY]),
      2 ** 53,
      '1000',
      true,
      10n,
      {},
      [],
    ),
    fc.string(),
    fc.bigInt(),
  );
}

/** Option objects with exactly one invalid option, labelled with the option's name. */
const badLockOption: fc.Arbitrary<{ option: string; options: Record<string, unknown> }> = fc.oneof(
  badDuration(100).map((ttlMs) => ({ option: 'ttlMs', options: { ttlMs } })),
  badDuration(0, { allowInfinity: true }).map((waitMs) => ({
    option: 'waitMs',
    options: { waitMs },
  })),
  badDuration(1).map((refreshMs) => ({ option: 'refreshMs', options: { refreshMs } })),
  fc
    .integer({ min: 100, max: 100_000 })
    .chain((ttlMs) =>
      fc
        .integer({ min: ttlMs, max: ttlMs * 3 })
        .map((refreshMs) => ({ option: 'refreshMs', options: { ttlMs, refreshMs } })),
    ),
  fc
    .integer({ min: 101, max: 100_000 })
    .chain((ttlMs) =>
      fc
        .integer({ min: 1, max: ttlMs - 1 })
        .map((maxHoldMs) => ({ option: 'maxHoldMs', options: { ttlMs, maxHoldMs } })),
    ),
  badDuration(1, { allowInfinity: true }).map((maxHoldMs) => ({
    option: 'maxHoldMs',
    options: { maxHoldMs },
  })),
  fc
    .oneof(fc.integer(), fc.string(), fc.constantFrom('true', 0, 1, {}))
    .map((autoRefresh) => ({ option: 'autoRefresh', options: { autoRefresh } })),
  fc
    .oneof(
      fc.integer(),
      fc.string(),
      fc.constantFrom({}, { delayAfter: () => 1 }, () => 1),
    )
    .map((retry) => ({ option: 'retry', options: { retry } })),
  fc
    .string({ minLength: 1, maxLength: 20 })
    .filter(
      (key) =>
        ![
          'ttlMs',
          'waitMs',
          'autoRefresh',
          'refreshMs',
          'maxHoldMs',
          'retry',
          'signal',
          'prefix',
          'commandTimeoutMs',
          'driftFactor',
          '__proto__',
        ].includes(key),
    )
    .map((key) => ({ option: key, options: { [key]: 1 } })),
);

/** Locker-only options with one invalid value. */
const badLockerOption: fc.Arbitrary<{ option: string; options: Record<string, unknown> }> =
  fc.oneof(
    badDuration(1).map((commandTimeoutMs) => ({
      option: 'commandTimeoutMs',
      options: { commandTimeoutMs },
    })),
    fc
      .oneof(
        fc.double({ min: 0.5, max: 1e6 }),
        fc.double({ min: -1e6, max: -Number.MIN_VALUE }),
        fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, '0.01', null, true),
      )
      .filter((value) => value !== null)
      .map((driftFactor) => ({ option: 'driftFactor', options: { driftFactor } })),
    fc
      .oneof(
        fc.integer(),
        fc.constantFrom({}, [], true),
        fc.string({ minLength: 257, maxLength: 400 }),
      )
      .map((prefix) => ({ option: 'prefix', options: { prefix } })),
    badLockOption,
  );

/** Lock names latchkey must refuse: not a string, empty, lone surrogates, too long. */
const badName: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom('', null, undefined, 0, 42, true, {}, [], Symbol('x'), 1n),
  fc.string({ minLength: 1, maxLength: 5 }).map((text) => `${text}\ud800`),
  fc.string({ minLength: 1, maxLength: 5 }).map((text) => `\udfff${text}`),
  fc.integer({ min: MAX_NAME_BYTES + 1, max: 4_000 }).map((length) => 'n'.repeat(length)),
  fc.integer({ min: Math.ceil((MAX_NAME_BYTES + 1) / 3), max: 1_000 }).map((n) => '€'.repeat(n)),
);

function expectInvalid(error: unknown, argument?: string): void {
  expect(error).toBeInstanceOf(InvalidArgumentError);
  const invalid = error as InvalidArgumentError;
  expect(invalid.code).toBe(LOCK_ERROR_CODES.invalidArgument);
  if (argument !== undefined) expect(invalid.argument).toContain(argument);
}

async function rejection(promise: () => Promise<unknown>): Promise<unknown> {
  try {
    await promise();
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

interface Client {
  readonly name: string;
  readonly create: (options?: object) => Locker;
  close(): Promise<void>;
}

let server: RedisServer;
const clients: Client[] = [];

beforeAll(async () => {
  server = await startRedis();
  const ioredis = new Redis(server.port, '127.0.0.1');
  const nodeRedis = await createClient({ url: server.url }).connect();
  clients.push(
    {
      name: 'ioredis',
      create: (options) => createIORedisLocker(ioredis, options as never),
      close: async () => void ioredis.disconnect(),
    },
    {
      name: 'node-redis',
      create: (options) => createNodeRedisLocker(nodeRedis, options as never),
      close: async () => void nodeRedis.destroy(),
    },
  );
});

afterAll(async () => {
  for (const client of clients) await client.close();
  await server?.stop();
});

/** Nothing reached Redis: no key, no script, no subscription. */
async function expectUntouched(): Promise<void> {
  expect(await server.command('DBSIZE')).toBe(0);
  const calls = await commandCalls(server);
  for (const command of ['evalsha', 'eval', 'subscribe', 'publish', 'set', 'del']) {
    expect(calls.get(command) ?? 0, command).toBe(0);
  }
}

describe('bad input › property-based (fast-check)', () => {
  it('refuses a locker with any invalid option, synchronously', async () => {
    for (const client of clients) {
      fc.assert(
        fc.property(badLockerOption, ({ option, options }) => {
          let thrown: unknown;
          try {
            client.create(options);
          } catch (error) {
            thrown = error;
          }
          expectInvalid(thrown, option);
        }),
        RUNS,
      );
    }
    await expectUntouched();
  });

  it('refuses acquire, tryAcquire and withLock with any invalid option, writing nothing', async () => {
    for (const client of clients) {
      const locker = client.create();
      await fc.assert(
        fc.asyncProperty(badLockOption, async ({ option, options }) => {
          expectInvalid(await rejection(() => locker.acquire('orders', options)), option);
          const tryOptions = { ...options };
          delete tryOptions.waitMs;
          delete tryOptions.retry;
          if (Object.keys(tryOptions).length > 0) {
            expectInvalid(await rejection(() => locker.tryAcquire('orders', tryOptions)), option);
          }
          expectInvalid(await rejection(() => locker.withLock('orders', () => 1, options)), option);
        }),
        RUNS,
      );
      await locker.close();
    }
    await expectUntouched();
  });

  it('refuses every invalid lock name in every call, writing nothing', async () => {
    for (const client of clients) {
      const locker = client.create();
      await fc.assert(
        fc.asyncProperty(badName, async (name) => {
          const bad = name as string;
          expectInvalid(await rejection(() => locker.acquire(bad)), 'name');
          expectInvalid(await rejection(() => locker.tryAcquire(bad)), 'name');
          expectInvalid(await rejection(() => locker.withLock(bad, () => 1)), 'name');
          expectInvalid(await rejection(() => locker.inspect(bad)), 'name');
        }),
        RUNS,
      );
      await locker.close();
    }
    await expectUntouched();
  });

  it('refuses invalid retry strategies when they are built', () => {
    fc.assert(
      fc.property(fc.integer({ max: -1 }), fc.double({ noNaN: false }), (negative, anyNumber) => {
        expectInvalid(
          catchSync(() => linearBackoff({ delayMs: negative })),
          'retry.delayMs',
        );
        expectInvalid(catchSync(() => maxAttempts(negative, linearBackoff({ delayMs: 1 }))));
        if (!Number.isSafeInteger(anyNumber) || anyNumber < 1) {
          expectInvalid(
            catchSync(() => exponentialBackoff({ baseMs: anyNumber, maxMs: 10 })),
            'retry.baseMs',
          );
        }
      }),
      RUNS,
    );
  });

  it('ends an already-aborted acquire with the signal’s reason, writing nothing', async () => {
    for (const client of clients) {
      const locker = client.create();
      await fc.assert(
        fc.asyncProperty(fc.anything(), async (reason) => {
          const error = await rejection(() =>
            locker.acquire('orders', { signal: AbortSignal.abort(reason) }),
          );
          if (reason !== undefined) expect(error).toBe(reason);
        }),
        { numRuns: 50 },
      );
      await locker.close();
    }
    await expectUntouched();
  });
});

function catchSync(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('bad input › table cases that need Redis state (§6.5)', () => {
  it('refuses an invalid extend ttl and sends nothing; extend after release is LockNotHeld', async () => {
    const locker = clients[0]?.create({ autoRefresh: false }) as Locker;
    const lock = await locker.acquire('held');
    const before = (await commandCalls(server)).get('evalsha') ?? 0;
    await fc.assert(
      fc.asyncProperty(badDuration(100), async (ttlMs) => {
        expectInvalid(await rejection(() => lock.extend(ttlMs as number)), 'ttlMs');
      }),
      RUNS,
    );
    expect((await commandCalls(server)).get('evalsha') ?? 0).toBe(before);
    await lock.release();
    expect(await rejection(() => lock.extend())).toBeInstanceOf(LockNotHeldError);
    await locker.close();
    await server.command('FLUSHALL');
    await server.command('CONFIG', 'RESETSTAT');
  });

  it('reports a lock key holding foreign data as LockKeyConflictError and leaves it alone', async () => {
    const locker = clients[1]?.create() as Locker;
    await server.command('SET', 'latchkey:{app}', 'application data');
    await server.command('LPUSH', 'latchkey:{list}', 'x');
    expect(await rejection(() => locker.acquire('app', { waitMs: 0 }))).toBeInstanceOf(
      LockKeyConflictError,
    );
    expect(await rejection(() => locker.acquire('list', { waitMs: 0 }))).toBeInstanceOf(
      LockKeyConflictError,
    );
    expect(await server.command('GET', 'latchkey:{app}')).toBe('application data');
    expect(await server.command('LLEN', 'latchkey:{list}')).toBe(1);
    await locker.close();
    await server.command('FLUSHALL');
    await server.command('CONFIG', 'RESETSTAT');
  });
});
