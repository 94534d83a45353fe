/**
 * The least-privilege Redis ACL rule the README documents for latchkey with the default prefix:
 * the commands latchkey sends (its scripts, the commands inside them, the subscriber's and the key
 * watcher's), its keys and its channels. The conformance suites run as a user with exactly this
 * rule; a unit test checks that the README shows the same text.
 */
export const LATCHKEY_ACL_RULE = [
  'resetkeys',
  '~latchkey:*',
  'resetchannels',
  '&latchkey:*',
  '&__redis__:invalidate',
  '-@all',
  // The scripts, and what runs inside them.
  '+evalsha',
  '+eval',
  '+get',
  '+set',
  '+del',
  '+exists',
  '+incr',
  '+pexpire',
  '+pttl',
  '+time',
  '+zadd',
  '+zrem',
  '+zcard',
  '+zrange',
  '+zscore',
  '+zpopmin',
  '+hset',
  '+hget',
  '+hmget',
  '+hdel',
  '+hlen',
  '+publish',
  '+pubsub|numsub',
  // The server check (and ioredis's ready check), the subscriber, the key watcher, `replicas`.
  '+info',
  '+ping',
  '+subscribe',
  '+unsubscribe',
  '+hello',
  '+client|id',
  '+client|info',
  '+client|tracking',
  '+wait',
] as const;

/** Creates (or resets) `user` with password `password` and exactly LATCHKEY_ACL_RULE. */
export function aclSetUser(user: string, password: string): string[] {
  return ['ACL', 'SETUSER', user, 'reset', 'on', `>${password}`, ...LATCHKEY_ACL_RULE];
}

/**
 * What a Redis Cluster needs on top of LATCHKEY_ACL_RULE: sharded pub/sub (inside the scripts and
 * on the subscriber) and the slot map (the clients' and the subscriber's CLUSTER SLOTS).
 */
export const LATCHKEY_CLUSTER_ACL_ADDITIONS = [
  '+spublish',
  '+pubsub|shardnumsub',
  '+ssubscribe',
  '+sunsubscribe',
  '+cluster|slots',
  '+cluster|info',
  '+client|setname',
] as const;

/** aclSetUser for a Cluster's nodes: the rule and the Cluster additions. */
export function aclSetClusterUser(user: string, password: string): string[] {
  return [...aclSetUser(user, password), ...LATCHKEY_CLUSTER_ACL_ADDITIONS];
}
