/** node-redis's conformance suite against a real Redis Cluster (3 masters, 1 replica each). */
import { connectNodeRedisCluster } from '../helpers/adapters.js';
import { runClusterConformance } from '../helpers/conformance.js';

runClusterConformance('node-redis', connectNodeRedisCluster, './worker-node-redis-cluster.ts');
