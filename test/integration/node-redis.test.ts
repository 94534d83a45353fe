import { connectNodeRedis } from '../helpers/adapters.js';
import { runConformance } from '../helpers/conformance.js';

runConformance('node-redis', connectNodeRedis, './worker-node-redis.ts');
