import { runWorker } from '../../src/testing/worker.js';
import { connectIORedisTls } from './adapters-ioredis.js';
import { clientTlsFromEnv } from './tls-certs.js';

await runWorker(connectIORedisTls(clientTlsFromEnv()));
