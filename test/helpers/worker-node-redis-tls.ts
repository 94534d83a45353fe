import { runWorker } from '../../src/testing/worker.js';
import { connectNodeRedisTls } from './adapters-node-redis.js';
import { clientTlsFromEnv } from './tls-certs.js';

await runWorker(connectNodeRedisTls(clientTlsFromEnv()));
