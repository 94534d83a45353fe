/**
 * Nothing left behind per name (issue 11, item 6): a service that locks per entity uses a new name
 * for each, so once a name is idle no key of it may stay in Redis without an expiry. Every kind
 * takes many names, some with a waiter handed the lock, and then every key on the server must
 * have an expiry; fencing tokens must still grow per name after its counter is gone.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromIORedis } from '../../src/backends/redis/adapters/ioredis.js';
import { FENCE_KEEP_MS } from '../../src/backends/redis/scripts/index.js';
import { Locker } from '../../src/locker.js';
import { type RedisServer, startRedis } from '../helpers/redis-server.js';

/** The figure: 10,000 names, each acquired and released once. */
const MUTEX_NAMES = 10_000;
/** The other kinds run the same code per name; fewer names keep the test short. */
const KIND_NAMES = 500;
/** Names in flight at once. */
const PARALLEL = 100;

let server: RedisServer;
let client: Redis;
let locker: Locker;

beforeAll(async () => {
  server = await startRedis();
  client = new Redis(server.port);
  locker = new Locker(fromIORedis(client));
});

afterAll(async () => {
  await locker?.close();
  client?.disconnect();
  await server?.stop();
});

/** Runs `each` for every name, PARALLEL at a time. */
async function forNames(
  prefix: string,
  count: number,
  each: (name: string, index: number) => Promise<void>,
): Promise<void> {
  for (let start = 0; start < count; start += PARALLEL) {
    const batch = Array.from({ length: Math.min(PARALLEL, count - start) }, (_, i) => start + i);
    await Promise.all(batch.map((index) => each(`${prefix}:${index}`, index)));
  }
}

/** How many keys the server has, and those without an expiry (PTTL -1; -2: gone since SCAN). */
async function keysWithoutExpiry(): Promise<{ total: number; persistent: string[] }> {
  const persistent: string[] = [];
  let total = 0;
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'COUNT', 1_000);
    cursor = next;
    total += keys.length;
    const pttls = await Promise.all(keys.map((key) => client.pttl(key)));
    keys.forEach((key, i) => {
      if (pttls[i] === -1) persistent.push(key);
    });
  } while (cursor !== '0');
  return { total, persistent };
}

describe('idle names leave no key without an expiry', () => {
  it('idle keys › 10,000 mutex names and 500 names of every other kind, each used once (one in ten with a waiter handed the lock), leave no key without an expiry', async () => {
    await forNames('mutex', MUTEX_NAMES, async (name, index) => {
      const lock = await locker.acquire(name);
      if (index % 10 === 0) {
        const waiter = locker.acquire(name, { waitMs: 5_000 });
        await new Promise((resolve) => setTimeout(resolve, 5));
        await lock.release();
        await (await waiter).release();
      } else {
        await lock.release();
      }
    });
    await forNames('semaphore', KIND_NAMES, async (name) => {
      const semaphore = locker.semaphore(name, { limit: 2 });
      const permits = await Promise.all([semaphore.acquire(), semaphore.acquire()]);
      await Promise.all(permits.map((permit) => permit.release()));
    });
    await forNames('rw', KIND_NAMES, async (name) => {
      const rw = locker.readWrite(name);
      await (await rw.acquireRead()).release();
      await (await rw.acquireWrite()).release();
    });
    await forNames('reentrant', KIND_NAMES, async (name) => {
      const lock = locker.reentrant(name);
      const first = await lock.acquire({ owner: 'job' });
      const again = await lock.acquire({ owner: 'job' });
      await again.release();
      await first.release();
    });
    await forNames('election', KIND_NAMES, async (name) => {
      const leadership = await locker.election(name).campaign('host');
      await leadership.resign();
    });
    await forNames('multi', KIND_NAMES, async (name) => {
      await (await locker.multi([`${name}.a`, `${name}.b`]).acquire()).release();
    });
    const { total, persistent } = await keysWithoutExpiry();
    // Fencing counters at least: the check looks at real keys.
    expect(total).toBeGreaterThanOrEqual(MUTEX_NAMES);
    expect(persistent).toEqual([]);
  }, 120_000);

  it('idle keys › a name whose counter expired or was lost draws tokens above its earlier ones', async () => {
    const name = 'counter-lost';
    const first = await locker.acquire(name);
    await first.release();
    const fenceKey = `latchkey:{${name}}:fence`;
    const pttl = await client.pttl(fenceKey);
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(FENCE_KEEP_MS);
    // As if it had expired after a minute of idleness, or been evicted or flushed.
    await client.del(fenceKey);
    const second = await locker.acquire(name);
    expect(second.fencingToken).toBeGreaterThan(first.fencingToken);
    await second.release();
    const third = await locker.acquire(name);
    expect(third.fencingToken).toBeGreaterThan(second.fencingToken);
    await third.release();
  });
});
