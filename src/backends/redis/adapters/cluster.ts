/**
 * What both adapters' Redis Cluster modes are made of: the client's own script sending (routed by
 * key to the slot's master), the shared sharded subscriber and the shared per-master key watcher.
 * An adapter supplies only how to reach one node (`ClusterNodes`).
 */
import type { RedisAdapter } from '../adapter.js';
import { ClusterKeyWatcher, type ClusterWatchLinks } from './cluster-key-watcher.js';
import { type ClusterLinks, ShardedSubscriber } from './sharded-subscriber.js';

/** How an adapter reaches the nodes of its cluster: the slot map, and connections to one node. */
export type ClusterNodes = ClusterLinks & ClusterWatchLinks;

export function clusterAdapter(
  runScript: RedisAdapter['runScript'],
  nodes: ClusterNodes,
): RedisAdapter {
  return {
    cluster: true,
    runScript,
    createSubscriber: async () => new ShardedSubscriber(nodes),
    createKeyWatcher: async (onChanged) => new ClusterKeyWatcher(nodes, onChanged),
  };
}
