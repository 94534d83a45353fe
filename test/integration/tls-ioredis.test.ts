/** The conformance suite for ioredis over TLS with client certificates, as the least-privilege user. */
import { connectIORedisTls } from '../helpers/adapters-ioredis.js';
import { runTlsConformance } from '../helpers/conformance.js';

runTlsConformance('ioredis', connectIORedisTls, './worker-ioredis-tls.ts');
