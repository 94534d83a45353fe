import { runWorker } from '../../src/testing/worker.js';
import { connectNodeRedis } from './adapters-node-redis.js';

await runWorker(connectNodeRedis);
