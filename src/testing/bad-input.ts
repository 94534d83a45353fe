/** Conformance: bad input is refused with a typed error before anything reaches Redis. */
import assert from 'node:assert/strict';
import { mutexKeys } from '../backends/redis/keys.js';
import { LOCK_ERROR_CODES } from '../errors.js';
import { Locker } from '../locker.js';
import type { SuiteContext } from './context.js';
import type { TestApi } from './types.js';

export function registerBadInputTests(api: TestApi, ctx: SuiteContext): void {
  const { describe, it } = api;
  const { newLocker, fresh, dbsize, sleep, server, target, PREFIX, connections } = ctx;

  describe('bad input', () => {
    const cases: [string, (locker: Locker) => Promise<unknown>, string][] = [
      ['empty name', (l) => l.acquire(''), 'name'],
      ['non-string name', (l) => l.acquire(42 as unknown as string), 'name'],
      ['oversized name', (l) => l.acquire('x'.repeat(1025)), 'name'],
      ['ttl not an integer', (l) => l.acquire('n', { ttlMs: 1.5 }), 'ttlMs'],
      ['ttl NaN', (l) => l.acquire('n', { ttlMs: Number.NaN }), 'ttlMs'],
      ['ttl negative', (l) => l.acquire('n', { ttlMs: -1 }), 'ttlMs'],
      ['ttl below minimum', (l) => l.acquire('n', { ttlMs: 99 }), 'ttlMs'],
      ['ttl too large', (l) => l.acquire('n', { ttlMs: 2 ** 31 }), 'ttlMs'],
      [
        'refresh not below ttl',
        (l) => l.acquire('n', { ttlMs: 1_000, refreshMs: 1_000 }),
        'refreshMs',
      ],
      ['negative wait', (l) => l.acquire('n', { waitMs: -1 }), 'waitMs'],
      ['NaN wait', (l) => l.acquire('n', { waitMs: Number.NaN }), 'waitMs'],
      ['fractional wait', (l) => l.acquire('n', { waitMs: 0.5 }), 'waitMs'],
      ['maxHold below ttl', (l) => l.acquire('n', { ttlMs: 1_000, maxHoldMs: 500 }), 'maxHoldMs'],
      ['bad retry', (l) => l.acquire('n', { retry: { delayAfter: () => 1 } as never }), 'retry'],
      ['unknown option', (l) => l.acquire('n', { ttl: 1_000 } as never), 'options.ttl'],
      ['signal not a signal', (l) => l.acquire('n', { signal: {} as AbortSignal }), 'signal'],
      ['tryAcquire with waitMs', (l) => l.tryAcquire('n', { waitMs: 5 } as never), 'options'],
    ];
    for (const [label, call, argument] of cases) {
      it(`Locker › bad input › ${label} is rejected with ERR_LOCK_INVALID_ARGUMENT and writes nothing`, async () => {
        const locker = await newLocker();
        await server.command('FLUSHALL');
        await assert.rejects(call(locker), { code: LOCK_ERROR_CODES.invalidArgument, argument });
        assert.equal(await dbsize(), 0);
      });
    }

    it('Locker › bad input › an already-aborted signal is rejected with its reason and writes nothing', async () => {
      const locker = await newLocker();
      await server.command('FLUSHALL');
      await assert.rejects(
        locker.acquire('n', { signal: AbortSignal.abort(new Error('early')) }),
        /early/,
      );
      assert.equal(await dbsize(), 0);
    });

    it('Locker › bad input › bad locker options throw at construction', async () => {
      const connection = await target.connect(server.url);
      connections.push(connection);
      const { adapter } = connection;
      assert.throws(() => new Locker(adapter, { ttlMs: 0 }), {
        code: LOCK_ERROR_CODES.invalidArgument,
      });
      assert.throws(() => new Locker(adapter, { prefix: 1 as never }), { argument: 'prefix' });
      assert.throws(() => new Locker(adapter, { commandTimeoutMs: 0 }), {
        argument: 'commandTimeoutMs',
      });
      assert.throws(() => new Locker(adapter, { driftFactor: 1 }), { argument: 'driftFactor' });
      assert.throws(() => new Locker({} as never), { argument: 'adapter' });
    });

    const conflicts: [string, (key: string) => Promise<unknown>][] = [
      ['a hash', (key) => server.command('HSET', key, 'field', 'value')],
      ['a string without expiry', (key) => server.command('SET', key, 'application data')],
      [
        'a foreign string with expiry',
        (key) => server.command('SET', key, 'cached page', 'PX', 60_000),
      ],
    ];
    for (const [label, write] of conflicts) {
      it(`Locker › key conflict › a lock key holding ${label} gets LockKeyConflictError`, async () => {
        const locker = await newLocker();
        const name = fresh('conflict');
        const { lock: key } = mutexKeys(PREFIX, name);
        await write(key);
        await assert.rejects(locker.acquire(name, { waitMs: 100 }), {
          code: LOCK_ERROR_CODES.keyConflict,
          name: 'LockKeyConflictError',
        });
        assert.equal(await server.command('TYPE', mutexKeys(PREFIX, name).queue), 'none');
      });
    }

    it('Locker › key conflict › a fencing key holding text gets LockKeyConflictError and no lock stays', async () => {
      const locker = await newLocker();
      const name = fresh('fence-conflict');
      const keys = mutexKeys(PREFIX, name);
      await server.command('SET', keys.fence, 'not a number');
      await assert.rejects(locker.acquire(name), { code: LOCK_ERROR_CODES.keyConflict });
      await sleep(50);
      assert.equal(await server.command('EXISTS', keys.lock), 0);
    });
  });
}
