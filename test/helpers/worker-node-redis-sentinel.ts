import { runWorker } from '../../src/testing/worker.js';
import { connectNodeRedisSentinel } from './adapters-node-redis.js';

await runWorker(connectNodeRedisSentinel);
