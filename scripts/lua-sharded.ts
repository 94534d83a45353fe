/**
 * The Redis Cluster variant of a script: the same Lua with sharded pub/sub. In a Cluster a
 * PUBLISH goes to every node over the cluster bus and PUBSUB NUMSUB counts the subscribers of
 * one node only; SPUBLISH reaches only the shard that owns the channel's slot (the lock's slot:
 * channels carry the lock's hash tag), and SHARDNUMSUB counts that shard's subscribers.
 * A standalone Redis keeps the plain commands, which every supported client version can receive.
 */

const REWRITES: readonly (readonly [from: string, to: string])[] = [
  ["redis.call('PUBLISH',", "redis.call('SPUBLISH',"],
  ["redis.call('PUBSUB', 'NUMSUB',", "redis.call('PUBSUB', 'SHARDNUMSUB',"],
];

/** `lua` with sharded pub/sub, or undefined when the script publishes nothing. */
export function shardedVariant(lua: string): string | undefined {
  let sharded = lua;
  for (const [from, to] of REWRITES) sharded = sharded.replaceAll(from, to);
  // Code (not comments) that still names the plain commands was written in a form the rewrite
  // does not know: refuse to build rather than ship a Cluster script that broadcasts.
  const code = sharded
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('--'))
    .join('\n');
  if (/'PUBLISH'|'NUMSUB'/.test(code)) {
    throw new Error(`a PUBLISH or NUMSUB in a form shardedVariant does not rewrite:\n${code}`);
  }
  return sharded === lua ? undefined : sharded;
}
