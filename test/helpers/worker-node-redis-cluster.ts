import { runWorker } from '../../src/testing/worker.js';
import { connectNodeRedisCluster } from './adapters.js';

await runWorker(connectNodeRedisCluster);
