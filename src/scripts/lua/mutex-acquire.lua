-- mutex-acquire: take a free lock, claim one handed over to us, or report how long it stays held.
--
-- A lock key holds the holder's token, or "~" .. token while a release has reserved the lock for the
-- waiter with that token (see mutex-release.lua). Queue entries keep FIFO order for waiters and say
-- how long each stays live without a refresh, so a release can skip waiters that died.
--
-- KEYS[1] lock key     string: holder token, or "~" .. waiter token while reserved; always has a PX expiry
-- KEYS[2] fence key    integer counter without expiry; one INCR per successful acquisition
-- KEYS[3] queue key    zset: waiter token -> arrival time in server microseconds (FIFO order)
-- KEYS[4] waiters key  hash: waiter token -> "<live-until server ms> <handoff ms> <wake channel>"
-- ARGV[1] token        this acquisition's random token (32 lowercase hex characters)
-- ARGV[2] ttl          lock time to live, ms (positive integer)
-- ARGV[3] queue mode   "0": never queue (try once); "1": join the queue on failure;
--                      "2": already queued by an earlier attempt: refresh the entry on failure,
--                      remove it on success
-- ARGV[4] sleep cap    ms the caller will sleep at most before it tries again (its remaining wait)
-- ARGV[5] grace        ms a queue entry stays live past the caller's planned retry
-- ARGV[6] handoff      ms a release reserves the lock for this waiter before giving up on it
-- ARGV[7] channel      pub/sub channel on which this waiter's process listens for its wake-up
--
-- Replies:
--   {1, fence}  acquired; fence is the new fencing token
--   {0, pttl}   held by someone else (or reserved for another waiter) for pttl more ms
--   {-1, code}  the key holds data latchkey did not write: code 1 = a string without expiry,
--               code 2 = a string that is not a latchkey token
-- Errors: WRONGTYPE from SET/ZADD/HSET, and "not an integer" from INCR, when keys hold other types.

local lockKey, fenceKey, queueKey, waitersKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local token = ARGV[1]

-- A reservation was popped from the queue by the release that made it; only a queued caller that
-- found the lock free still has an entry to remove.
local function won(hasEntry)
  if hasEntry and ARGV[3] == '2' then
    redis.call('ZREM', queueKey, token)
    redis.call('HDEL', waitersKey, token)
  end
  return { 1, redis.call('INCR', fenceKey) }
end

-- SET NX GET (Redis >= 7.0) tries the lock and tells us who holds it in one call.
local current = redis.call('SET', lockKey, token, 'NX', 'PX', ARGV[2], 'GET')
if not current then
  return won(true)
end
if current == '~' .. token then
  redis.call('SET', lockKey, token, 'PX', ARGV[2])
  return won(false)
end

local pttl = redis.call('PTTL', lockKey)
if pttl < 0 then
  return { -1, 1 }
end
if not string.match(current, '^~?%x+$') or #current < 32 or #current > 33 then
  return { -1, 2 }
end

if ARGV[3] ~= '0' then
  local now = redis.call('TIME')
  local sleep = math.min(pttl, tonumber(ARGV[4]))
  local liveUntil = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) + sleep + tonumber(ARGV[5])
  redis.call('ZADD', queueKey, 'NX', tonumber(now[1]) * 1000000 + tonumber(now[2]), token)
  redis.call('HSET', waitersKey, token, liveUntil .. ' ' .. ARGV[6] .. ' ' .. ARGV[7])
end
return { 0, pttl }
