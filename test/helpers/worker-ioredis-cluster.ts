import { runWorker } from '../../src/testing/worker.js';
import { connectIORedisCluster } from './adapters.js';

await runWorker(connectIORedisCluster);
