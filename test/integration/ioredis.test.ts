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

  it('ioredis › writes › commands sent in one turn leave the socket in one write, in order', async () => {
    const server = await startRedis();
    const client = new Redis(server.port);
    await client.ping();
    const locker = createLocker(client);
    // Count the socket's write calls: corked writes reach it as one _writev.
    const socket = client.stream as unknown as {
      _write: (...args: unknown[]) => void;
      _writev: (...args: unknown[]) => void;
    };
    const calls = { write: 0, writev: 0 };
    const write = socket._write.bind(socket);
    const writev = socket._writev.bind(socket);
    socket._write = (...args) => {
      calls.write++;
      write(...args);
    };
    socket._writev = (...args) => {
      calls.writev++;
      writev(...args);
    };
    try {
      await (await locker.acquire('warm-up')).release(); // opens the subscriber
      calls.write = 0;
      calls.writev = 0;
      const names = Array.from({ length: 100 }, (_, i) => `batched-${i}`);
      const acquiring = names.map((name) => locker.acquire(name));
      // The caller's own commands sent while the socket is corked go in the same write, in order.
      const own = Promise.resolve().then(() =>
        Promise.all([client.set('own-key', 'own-value'), client.get('own-key')]),
      );
      const locks = await Promise.all(acquiring);
      expect(await own).toEqual(['OK', 'own-value']);
      expect(calls.writev).toBe(1); // the 100 acquire scripts
      expect(calls.write).toBeLessThanOrEqual(2); // SET and GET, if sent before the cork
      expect(new Set(locks.map((lock) => lock.fencingToken))).toEqual(new Set([1]));
      await Promise.all(locks.map((lock) => lock.release()));
      const state = await Promise.all(names.map((name) => locker.inspect(name)));
      expect(state.every((lock) => !lock.locked)).toBe(true);
      // Nothing stays corked: a lone command afterwards is written at once.
      expect((client.stream as unknown as { writableCorked: number }).writableCorked).toBe(0);
    } finally {
      await locker.close();
      client.disconnect();
      await server.stop();
    }
  }, 30_000);
});
