/** How the tests connect each adapter under test to a server, by client (one module each). */
import {
  connectIORedis,
  connectIORedisCluster,
  connectIORedisSentinel,
} from './adapters-ioredis.js';
import {
  connectNodeRedis,
  connectNodeRedisCluster,
  connectNodeRedisSentinel,
} from './adapters-node-redis.js';

export {
  connectIORedis,
  connectIORedisCluster,
  connectIORedisSentinel,
  connectNodeRedis,
  connectNodeRedisCluster,
  connectNodeRedisSentinel,
};

export const ADAPTERS = { ioredis: connectIORedis, 'node-redis': connectNodeRedis } as const;

export const CLUSTER_ADAPTERS = {
  ioredis: connectIORedisCluster,
  'node-redis': connectNodeRedisCluster,
} as const;
