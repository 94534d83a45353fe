/**
 * latchkey through clients connected via Sentinel (ioredis `sentinels`, node-redis
 * `createSentinel`), against a real set-up of one primary, two replicas and three Sentinels: locks,
 * hand-overs by push (the subscriber connects through Sentinel too) and fencing order, before and
 * after a failover the Sentinels carry out.
 */
import { Redis } from 'ioredis';
import { createSentinel } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocker as createIORedisLocker } from '../../src/backends/redis/adapters/ioredis.js';
import {
  createLocker as createNodeRedisLocker,
  type NodeRedisClient,
} from '../../src/backends/redis/adapters/node-redis.js';
import { mutexKeys } from '../../src/backends/redis/keys.js';
import type { Locker } from '../../src/index.js';
import { type SentinelSetup, startSentinelSetup } from '../helpers/redis-sentinel.js';

interface Connected {
  readonly locker: Locker;
  close(): Promise<void>;
}

const CONNECT: Record<string, (setup: SentinelSetup) => Promise<Connected>> = {
  async ioredis(setup) {
    const client = new Redis({
      sentinels: setup.sentinels.map(({ host, port }) => ({ host, port })),
      name: setup.name,
      lazyConnect: true,
    });
    client.on('error', () => {}); // the failover drops connections
    await client.connect();
    const locker = createIORedisLocker(client);
    return {
      locker,
      async close() {
        await locker.close();
        await client.quit().catch(() => client.disconnect());
      },
    };
  },
  async 'node-redis'(setup) {
    const client = createSentinel({
      name: setup.name,
      sentinelRootNodes: setup.sentinels.map(({ host, port }) => ({ host, port })),
    });
    client.on('error', () => {});
    await client.connect();
    const locker = createNodeRedisLocker(client as unknown as NodeRedisClient);
    return {
      locker,
      async close() {
        await locker.close();
        await client.close().catch(() => client.destroy());
      },
    };
  },
};

/**
 * A holder releases while a waiter waits with a wait shorter than the holder's ttl: only a
 * hand-over pushed through the subscriber can give the waiter the lock in time.
 */
async function handOverByPush(locker: Locker, name: string): Promise<[number, number]> {
  const holder = await locker.acquire(name, { ttlMs: 20_000 });
  const waiting = locker.acquire(name, { ttlMs: 20_000, waitMs: 8_000 });
  await new Promise((resolve) => setTimeout(resolve, 100));
  expect(await holder.release()).toMatchObject({ outcome: 'released' });
  const next = await waiting;
  expect(await next.release()).toMatchObject({ outcome: 'released' });
  return [holder.fencingToken, next.fencingToken];
}

describe.each(Object.keys(CONNECT))('Sentinel › %s', (adapter) => {
  let setup: SentinelSetup;
  let connected: Connected;
  beforeAll(async () => {
    setup = await startSentinelSetup();
    connected = await (CONNECT[adapter] as (setup: SentinelSetup) => Promise<Connected>)(setup);
  }, 60_000);
  afterAll(async () => {
    await connected?.close();
    await setup?.stop();
  });

  it('locks and hands over by push through the primary the Sentinels name', async () => {
    const [first, second] = await handOverByPush(connected.locker, 'sentinel:before');
    expect(second).toBeGreaterThan(first);
    expect(
      await (await setup.primary()).command(
        'EXISTS',
        mutexKeys('latchkey:', 'sentinel:before').lock,
      ),
    ).toBe(0);
  });

  it('after a failover: a lock held across it releases, fencing tokens keep growing, hand-overs by push go on', async () => {
    const { locker } = connected;
    const held = await locker.acquire('sentinel:across', { ttlMs: 30_000 });
    const lockKey = mutexKeys('latchkey:', 'sentinel:across').lock;
    // The failover promotes a replica: wait until both have the lock, as Sentinel's own
    // failover waits for no write (a write it has not replicated would be lost).
    const primary = await setup.primary();
    for (const server of setup.servers.filter((s) => s !== primary)) {
      await expect.poll(() => server.command('GET', lockKey), { timeout: 5_000 }).toBe(held.token);
    }
    const promoted = await setup.failover();
    expect(promoted).not.toBe(primary);

    // The client finds the new primary (its old connections were closed by the Sentinels).
    expect(await held.release()).toMatchObject({ outcome: 'released' });
    const after = await locker.acquire('sentinel:across', { ttlMs: 10_000 });
    expect(after.fencingToken).toBeGreaterThan(held.fencingToken);
    await after.release();
    const [first, second] = await handOverByPush(locker, 'sentinel:after');
    expect(second).toBeGreaterThan(first);
    expect(await promoted.command('EXISTS', mutexKeys('latchkey:', 'sentinel:after').lock)).toBe(0);
  }, 60_000);
});
