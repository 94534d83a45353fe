import { runWorker } from '../../src/testing/worker.js';
import { connectNodeRedisSentinel } from './adapters.js';

await runWorker(connectNodeRedisSentinel);
