-- server-info: read what the client-side server check needs from INFO, in one round trip.
--
-- Run once per locker before its first lock command; the caller parses the text and refuses a
-- Cluster node or a Redis older than 7.0, and warns about an eviction policy that can evict keys
-- and about a server that keeps no append-only file (a restart loses the locks).
-- No KEYS and no ARGV: it reads only server-wide state.
--
-- Reply: {INFO server text, INFO cluster text, INFO memory text, INFO persistence text}

return {
  redis.call('INFO', 'server'),
  redis.call('INFO', 'cluster'),
  redis.call('INFO', 'memory'),
  redis.call('INFO', 'persistence'),
}
