-- election-proclaim: the leader says what it leads with (its host name, say), and observers are
-- told.
--
-- An election is a mutex (the lock key holds the leader's token) plus this value. The value names
-- the token it belongs to, so a value left by an earlier leader is never read as the current
-- one's; it lives as long as the lock (election-extend keeps it so). The message on the changes
-- channel only says that something changed: observers read the leader again.
--
-- KEYS[1] lock key     string: the leader's token
-- KEYS[2] value key    string: "<token> <fencing token> <value>" of the leader that proclaimed
-- ARGV[1] token        the leader's token
-- ARGV[2] fence        the leader's fencing token (its term)
-- ARGV[3] value        what it leads with (any string)
-- ARGV[4] channel      the election's changes channel
--
-- Replies:
--   1   proclaimed
--   0   the token does not hold the lock (any more)

if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
local pttl = redis.call('PTTL', KEYS[1])
if pttl <= 0 then
  return 0
end
redis.call('SET', KEYS[2], ARGV[1] .. ' ' .. ARGV[2] .. ' ' .. ARGV[3], 'PX', pttl)
redis.call('PUBLISH', ARGV[4], ARGV[2])
return 1
