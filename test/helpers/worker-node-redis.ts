import { runWorker } from '../../src/testing/worker.js';
import { connectNodeRedis } from './adapters.js';

await runWorker(connectNodeRedis);
