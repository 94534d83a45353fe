/**
 * The floor: what a lock costs with nothing but `SET key token NX PX ttl` and a compare-and-delete
 * script run with EVALSHA. A waiter retries every RETRY_MS, for at most WAIT_MS.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { closeIORedis, connectIORedis, installedVersion } from './connections.js';
import type { LockLibrary } from './types.js';

const COMPARE_AND_DELETE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;
const RETRY_MS = 5;
const WAIT_MS = 10_000;

export const library: LockLibrary = {
  id: 'raw',
  label: `raw SET NX PX + EVALSHA (ioredis@${installedVersion('ioredis')})`,
  waiting: `poll every ${RETRY_MS} ms, give up after ${WAIT_MS / 1000} s`,
  async open(url) {
    const client = await connectIORedis(url);
    const sha1 = String(await client.script('LOAD', COMPARE_AND_DELETE));
    return {
      async acquire(key, ttlMs, signal) {
        const token = randomBytes(16).toString('hex');
        const deadline = performance.now() + WAIT_MS;
        for (;;) {
          if ((await client.set(key, token, 'PX', ttlMs, 'NX')) === 'OK') {
            return {
              fencingToken: undefined,
              release: async () => {
                await client.evalsha(sha1, 1, key, token);
              },
            };
          }
          if (performance.now() >= deadline) return null;
          await sleep(RETRY_MS, undefined, signal ? { signal } : {});
        }
      },
      ping: async () => {
        await client.ping();
      },
      close: () => closeIORedis(client),
    };
  },
};
