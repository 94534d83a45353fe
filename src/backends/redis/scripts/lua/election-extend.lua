-- election-extend: extend the leader's lock as mutex-extend does, and its value with it.
--
-- KEYS[1] lock key   string: the leader's token
-- KEYS[2] value key  string: "<token> <fencing token> <value>" of the leader that proclaimed
-- ARGV[1] token      the leader's token
-- ARGV[2] ttl        new time to live, ms (integer >= 100)
--
-- Replies: as mutex-extend's (n > 0 the PTTL now, 0 gone, -1 another token).

-- @include mutex

local pttl = extendLock(KEYS[1], ARGV[1], ARGV[2])
if pttl > 0 then
  local value = redis.call('GET', KEYS[2])
  if value and string.sub(value, 1, #ARGV[1] + 1) == ARGV[1] .. ' ' then
    redis.call('PEXPIRE', KEYS[2], pttl)
  end
end
return pttl
