import { runWorker } from '../../src/testing/worker.js';
import { connectNodeRedisCluster } from './adapters-node-redis.js';

await runWorker(connectNodeRedisCluster);
