import { connectIORedis } from '../helpers/adapters.js';
import { runConformance } from '../helpers/conformance.js';

runConformance('ioredis', connectIORedis, './worker-ioredis.ts');
