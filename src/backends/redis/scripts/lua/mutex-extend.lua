-- mutex-extend: compare-and-pexpire; push the lock's expiry to at least ttl ms from now if we still
-- hold it. It never shortens the expiry (PEXPIRE GT, Redis 7.0): a shorter extension than the one
-- in force must not let a second holder in while this one still believes it holds the lock. The
-- reply is the key's PTTL afterwards, so the client counts its validity from what the server has.
--
-- KEYS[1] lock key  string: holder token
-- ARGV[1] token     the holder's token
-- ARGV[2] ttl       new time to live, ms (integer >= 100)
--
-- Replies:
--   n > 0  extended (or already expiring later): n is the key's PTTL now, >= ttl
--   0      the key does not exist (expired, deleted, flushed or evicted)
--   -1     the key holds another token

local current = redis.call('GET', KEYS[1])
if not current then
  return 0
end
if current ~= ARGV[1] then
  return -1
end
redis.call('PEXPIRE', KEYS[1], ARGV[2], 'GT')
local pttl = redis.call('PTTL', KEYS[1])
if pttl < 0 then
  -- No expiry at all (someone ran PERSIST): GT counts that as infinite and changes nothing. Give
  -- the key an expiry again, so the lock still lapses if its holder stops.
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  pttl = tonumber(ARGV[2])
end
return pttl
