/** node-redis's conformance suite through Sentinel (one primary, two replicas, three Sentinels). */
import { connectNodeRedisSentinel } from '../helpers/adapters.js';
import { runSentinelConformance } from '../helpers/conformance.js';

runSentinelConformance('node-redis', connectNodeRedisSentinel, './worker-node-redis-sentinel.ts');
