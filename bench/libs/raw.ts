/**
 * The floor: what a lock costs with nothing but `SET key token NX PX ttl` and a compare-and-delete
 * script run with EVALSHA. A waiter retries every RETRY_MS, for at most WAIT_MS.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Cluster, Redis } from 'ioredis';
import {
  closeIORedis,
  connectIORedis,
  connectIORedisCluster,
  installedVersion,
} from './connections.js';
import type { LockClient, LockLibrary } from './types.js';

const COMPARE_AND_DELETE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;
const RETRY_MS = 5;
const WAIT_MS = 10_000;

export const library: LockLibrary = {
  id: 'raw',
  label: `raw SET NX PX + EVALSHA (ioredis@${installedVersion('ioredis')})`,
  waiting: `poll every ${RETRY_MS} ms, give up after ${WAIT_MS / 1000} s`,
  async open(url) {
    const client = await connectIORedis(url);
    return rawClient(client, String(await client.script('LOAD', COMPARE_AND_DELETE)));
  },
  async openCluster(url) {
    const client = await connectIORedisCluster(url);
    // EVALSHA goes to the key's master: every master needs the script.
    const [sha1] = await Promise.all(
      client.nodes('master').map((node) => node.script('LOAD', COMPARE_AND_DELETE)),
    );
    return rawClient(client, String(sha1));
  },
};

function rawClient(client: Redis | Cluster, sha1: string): LockClient {
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
}
