import { runWorker } from '../../src/testing/worker.js';
import { connectIORedisSentinel } from './adapters.js';

await runWorker(connectIORedisSentinel);
