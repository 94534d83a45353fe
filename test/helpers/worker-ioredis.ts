import { runWorker } from '../../src/testing/worker.js';
import { connectIORedis } from './adapters-ioredis.js';

await runWorker(connectIORedis);
