/** The conformance suite for node-redis over TLS with client certificates, as the least-privilege user. */
import { connectNodeRedisTls } from '../helpers/adapters-node-redis.js';
import { runTlsConformance } from '../helpers/conformance.js';

runTlsConformance('node-redis', connectNodeRedisTls, './worker-node-redis-tls.ts');
