-- semaphore-release: give back a holder's permits, then grant queued callers that now fit.
--
-- Also used to withdraw a waiter that gives up (timeout, abort) and to clean up an acquire whose
-- reply was lost: the token's queue entry is removed and permits granted to it are given back. A
-- waiter leaving the head of the line may let the callers behind it in, so the grant step runs
-- after a withdraw too. A release that released leaves a tombstone for ARGV[3] ms, so that the
-- same release run again (resent after a reconnect) reports released. When nobody holds or waits
-- any more the limit key goes, so the name can be used with another limit.
--
-- KEYS[1] lock key       zset: holder token -> expiry in server ms
-- KEYS[2] permits key    hash: holder token -> "<permits> <fencing token>"
-- KEYS[3] limit key      string: the limit the name is in use with
-- KEYS[4] fence key      the last fencing token: a grant draws the waiter's above it
-- KEYS[5] queue key      zset: waiter token -> arrival time in server microseconds
-- KEYS[6] waiters key    hash: waiter token -> "<live-until ms> <ttl ms> <attempt> <permits> <channel>"
-- KEYS[7] tombstone key  string "<lock key>:released:<ARGV[1]>": this release already released
-- ARGV[1] token          the token to release (or withdraw)
-- ARGV[2] withdraw       "1": also remove the token's queue entry; "0": a holder's release
-- ARGV[3] tombstone ms   how long the tombstone stays (positive integer); "0": none, look for none
--
-- Replies:
--   2   released, and at least one queued caller was granted permits and told
--   1   released, nobody granted (or: a run of this release already released)
--   0   the token held no permits (expired or deleted before this call, or never granted)

-- @include fence
-- @include semaphore

local k = {
  lock = KEYS[1],
  permits = KEYS[2],
  limit = KEYS[3],
  fence = KEYS[4],
  queue = KEYS[5],
  waiters = KEYS[6],
}
local tombstoneKey = KEYS[7]
local token, tombstoneMs = ARGV[1], ARGV[3]
local nowMs = serverNow()

if ARGV[2] == '1' then
  redis.call('ZREM', k.queue, token)
  redis.call('HDEL', k.waiters, token)
end

local score = tonumber(redis.call('ZSCORE', k.lock, token))
local result = 0
if score then
  redis.call('ZREM', k.lock, token)
  redis.call('HDEL', k.permits, token)
end
if score and score > nowMs then
  result = 1
  if tombstoneMs ~= '0' then
    redis.call('SET', tombstoneKey, '1', 'PX', tombstoneMs)
  end
elseif tombstoneMs ~= '0' and redis.call('EXISTS', tombstoneKey) == 1 then
  result = 1
end

purgeExpired(k, nowMs)
local limitText = redis.call('GET', k.limit)
if limitText then
  local limit = tonumber(limitText)
  local told = grantFitting(k, nowMs, limit, usedPermits(k, nowMs, limit), nil)
  if told > 0 and result == 1 then
    result = 2
  end
end
if redis.call('ZCARD', k.lock) == 0 and redis.call('ZCARD', k.queue) == 0 then
  redis.call('DEL', k.limit)
end
return result
