import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { createLocker } from '../../src/adapters/ioredis.js';
import { connectIORedis } from '../helpers/adapters.js';
import { runConformance } from '../helpers/conformance.js';
import { startRedis } from '../helpers/redis-server.js';

runConformance('ioredis', connectIORedis, './worker-ioredis.ts');

describe('ioredis adapter', () => {
  it('ioredis › subscriber › push wake-ups work when the client disables the offline queue', async () => {
    const server = await startRedis();
    const client = new Redis(server.port, { enableOfflineQueue: false, lazyConnect: true });
    await client.connect();
    const locker = createLocker(client);
    try {
      const holder = await locker.acquire('no-offline-queue', { ttlMs: 30_000 });
      const waiting = locker.acquire('no-offline-queue', { ttlMs: 30_000, waitMs: 20_000 });
      await new Promise((resolve) => setTimeout(resolve, 200));
      await holder.release();
      const started = performance.now();
      const next = await waiting;
      // Without a working subscriber the waiter would sleep out the holder's 30 s PTTL.
      expect(performance.now() - started).toBeLessThan(10_000);
      await next.release();
    } finally {
      await locker.close();
      client.disconnect();
      await server.stop();
    }
  }, 30_000);
});
