-- election-leader: read the current leader, its term and what it leads with, without changing
-- anything.
--
-- A leader counts once it has proclaimed: between winning the lock and proclaiming (one round
-- trip) the election reads as having none.
--
-- KEYS[1] lock key   string: the leader's token
-- KEYS[2] value key  string: "<token> <fencing token> <value>" of the leader that proclaimed
-- No ARGV.
--
-- Replies:
--   {}                                  no proclaimed leader
--   {token, fence, remaining ms, value}

local token = redis.call('GET', KEYS[1])
local value = redis.call('GET', KEYS[2])
if not token or not value then
  return {}
end
local owner, fence, text = string.match(value, '^(%S+) (%d+) (.*)$')
if owner ~= token then
  return {}
end
return { token, tonumber(fence), redis.call('PTTL', KEYS[1]), text }
