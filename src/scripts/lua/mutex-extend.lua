-- mutex-extend: compare-and-pexpire; push the lock's expiry to ttl ms from now if we still hold it.
--
-- KEYS[1] lock key  string: holder token
-- ARGV[1] token     the holder's token
-- ARGV[2] ttl       new time to live, ms (positive integer)
--
-- Replies:
--   1   extended
--   0   the key does not exist (expired or deleted)
--   -1  the key holds another token

local current = redis.call('GET', KEYS[1])
if not current then
  return 0
end
if current ~= ARGV[1] then
  return -1
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
