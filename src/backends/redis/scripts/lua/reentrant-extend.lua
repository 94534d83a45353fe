-- reentrant-extend: push the holding owner's expiry to at least ttl ms from now, for one of its
-- acquisitions; never shorten it. Extending through any acquisition keeps the whole hold alive.
--
-- KEYS[1] lock key     zset: the holding owner -> expiry in server ms
-- KEYS[2] permits key  hash: the holding owner -> "1 <fencing token>"
-- KEYS[3] entries key  hash: acquisition token -> owner, for the holding owner's acquisitions
-- ARGV[1] token        the acquisition's token
-- ARGV[2] ttl          ms from now the hold should last at least (positive integer)
--
-- Replies:
--   n > 0   extended; n is the ms left until the holder's expiry (at least ARGV[2])
--   0       the acquisition holds nothing (expired, deleted, or released)

-- @include fence
-- @include semaphore

local k = { lock = KEYS[1], permits = KEYS[2], entries = KEYS[3] }
local nowMs = serverNow()

local owner = redis.call('HGET', k.entries, ARGV[1])
local score = owner and tonumber(redis.call('ZSCORE', k.lock, owner))
if not score or score <= nowMs then
  return 0
end
local expiry = math.max(score, nowMs + tonumber(ARGV[2]))
redis.call('ZADD', k.lock, expiry, owner)
keepHolders(k, expiry, nowMs)
keepAlive(k.entries, expiry - nowMs)
return expiry - nowMs
