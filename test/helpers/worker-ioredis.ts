import { runWorker } from '../../src/testing/worker.js';
import { connectIORedis } from './adapters.js';

await runWorker(connectIORedis);
