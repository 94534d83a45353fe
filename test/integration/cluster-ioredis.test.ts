/** ioredis's conformance suite against a real Redis Cluster (3 masters, 1 replica each). */
import { connectIORedisCluster } from '../helpers/adapters.js';
import { runClusterConformance } from '../helpers/conformance.js';

runClusterConformance('ioredis', connectIORedisCluster, './worker-ioredis-cluster.ts');
