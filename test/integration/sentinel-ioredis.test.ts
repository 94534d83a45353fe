/** ioredis's conformance suite through Sentinel (one primary, two replicas, three Sentinels). */
import { connectIORedisSentinel } from '../helpers/adapters.js';
import { runSentinelConformance } from '../helpers/conformance.js';

runSentinelConformance('ioredis', connectIORedisSentinel, './worker-ioredis-sentinel.ts');
