import { runWorker } from '../../src/testing/worker.js';
import { connectIORedisCluster } from './adapters-ioredis.js';

await runWorker(connectIORedisCluster);
