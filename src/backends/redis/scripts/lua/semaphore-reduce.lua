-- semaphore-reduce: let a holder keep fewer permits than it holds, without letting go in between,
-- then grant queued callers that now fit.
--
-- The read-write lock's downgrade: a writer holds all the permits, a reader one; the writer keeps
-- one and the readers queued behind it come in, in the same step. The holder keeps its token, its
-- fencing token and its expiry. Growing a hold is refused: it would go past the callers in line.
--
-- KEYS[1] lock key     zset: holder token -> expiry in server ms
-- KEYS[2] permits key  hash: holder token -> "<permits> <fencing token>"
-- KEYS[3] limit key    string: the limit the name is in use with
-- KEYS[4] fence key    the last fencing token: a grant draws the waiter's above it
-- KEYS[5] queue key    zset: waiter token -> arrival time in server microseconds
-- KEYS[6] waiters key  hash: waiter token -> "<live-until ms> <ttl ms> <attempt> <permits> <channel>"
-- ARGV[1] token        the holder's token
-- ARGV[2] permits      how many permits it keeps (positive integer, at most what it holds)
--
-- Replies:
--   n >= 0  reduced; n queued callers were granted permits and told
--   -1      the token holds no permits (expired, deleted, or released), or its record is gone
--   -2      the token holds fewer permits than ARGV[2]

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
local token, keep = ARGV[1], tonumber(ARGV[2])
local nowMs = serverNow()

local score = tonumber(redis.call('ZSCORE', k.lock, token))
local held, fence = string.match(redis.call('HGET', k.permits, token) or '', '^(%d+) (%d+)$')
if not score or score <= nowMs or not held then
  -- A holder without its record counts as holding every permit (include/semaphore.lua) until it
  -- expires or is released: nothing says what it may keep, so it keeps it all.
  return -1
end
if keep > tonumber(held) then
  return -2
end
redis.call('HSET', k.permits, token, keep .. ' ' .. fence)

purgeExpired(k, nowMs)
local limitText = redis.call('GET', k.limit)
if not limitText then
  return 0
end
local limit = tonumber(limitText)
return (grantFitting(k, nowMs, limit, usedPermits(k, nowMs, limit), nil))
