/**
 * Repro (found while choosing the fault workers' client options): with an ioredis client created
 * with `enableOfflineQueue: false` (a common setting to stop commands from being queued and sent
 * late), push wake-ups never work. src/backends/redis/adapters/ioredis.ts `createSubscriber()` calls
 * `client.duplicate()` and subscribes at once; the duplicate inherits `enableOfflineQueue: false`
 * and is not connected yet, so SUBSCRIBE fails with "Stream isn't writeable and enableOfflineQueue
 * options is false". Every waiter then sleeps until the holder's ttl runs out instead of being
 * woken by the release (NODE_DEBUG=latchkey shows the failed subscribe).
 *
 * Run: `npx tsx test/faults/repros/ioredis-no-offline-queue.ts`. Prints how long a waiter waited
 * for a lock released after 200 ms: about 200 ms with the default client, about the ttl (1000 ms)
 * with `enableOfflineQueue: false`.
 */
import { Redis } from 'ioredis';
import { createLocker } from '../../../src/backends/redis/adapters/ioredis.js';
import { startRedis } from '../../helpers/redis-server.js';

const server = await startRedis();
try {
  for (const enableOfflineQueue of [true, false]) {
    const client = new Redis({ port: server.port, host: '127.0.0.1', enableOfflineQueue });
    await new Promise((resolve) => client.once('ready', resolve));
    const locker = createLocker(client, { ttlMs: 1_000 });
    const holder = await locker.acquire(`repro-${enableOfflineQueue}`);
    setTimeout(() => void holder.release(), 200);
    const started = performance.now();
    const waiter = await locker.acquire(`repro-${enableOfflineQueue}`, { waitMs: 3_000 });
    console.log(
      `enableOfflineQueue: ${enableOfflineQueue}: waiter got the lock after ${(performance.now() - started).toFixed(0)} ms (released at 200 ms, ttl 1000 ms)`,
    );
    await waiter.release();
    await locker.close();
    client.disconnect();
  }
} finally {
  await server.stop();
}
