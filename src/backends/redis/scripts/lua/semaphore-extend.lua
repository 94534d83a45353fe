-- semaphore-extend: push one holder's expiry to at least ttl ms from now; never shorten it.
--
-- Each holder has its own expiry, so extending one holder moves no other. The holder keys and the
-- limit are kept alive as long as the latest holder.
--
-- KEYS[1] lock key     zset: holder token -> expiry in server ms
-- KEYS[2] permits key  hash: holder token -> "<permits> <fencing token>"
-- KEYS[3] limit key    string: the limit the name is in use with
-- ARGV[1] token        the holder's token
-- ARGV[2] ttl          ms from now the holder should last at least (positive integer)
--
-- Replies:
--   n > 0   extended; n is the ms left until the holder's expiry (at least ARGV[2])
--   0       the token holds no permits (expired, deleted, or released)

-- @include fence
-- @include semaphore

local k = { lock = KEYS[1], permits = KEYS[2], limit = KEYS[3] }
local token = ARGV[1]
local nowMs = serverNow()

local score = tonumber(redis.call('ZSCORE', k.lock, token))
if not score or score <= nowMs then
  if score then
    redis.call('ZREM', k.lock, token)
    redis.call('HDEL', k.permits, token)
  end
  return 0
end
local expiry = math.max(score, nowMs + tonumber(ARGV[2]))
redis.call('ZADD', k.lock, expiry, token)
keepHolders(k, expiry, nowMs)
return expiry - nowMs
