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

-- @include mutex

return extendLock(KEYS[1], ARGV[1], ARGV[2])
