import { runWorker } from '../../src/testing/worker.js';
import { connectIORedisSentinel } from './adapters-ioredis.js';

await runWorker(connectIORedisSentinel);
