-- reentrant-acquire: take the lock for an owner, again without waiting if the owner holds it
-- already, pick up a grant a release made to this acquisition, or report how long it stays held.
--
-- A reentrant lock is a semaphore of one permit whose holder is an owner (the caller's owner id,
-- or a random one per in-process hold; see include/reentrant.lua). An acquisition of the holding
-- owner adds its token to the owner's entries and keeps the holder's fencing token; the holder's
-- expiry only grows. Anyone else queues in arrival order, and a release that ends the owner's
-- last entry grants the head of the line, as for the semaphore. Queue entries live and refresh as
-- in mutex-acquire.lua.
--
-- KEYS[1] lock key     zset: the holding owner -> expiry in server ms (one member at most)
-- KEYS[2] permits key  hash: the holding owner -> "1 <fencing token>"
-- KEYS[3] fence key    the last fencing token (include/fence.lua)
--                      (include/fence.lua)
-- KEYS[4] queue key    zset: waiting acquisition token -> arrival in server microseconds
-- KEYS[5] waiters key  hash: waiting token -> "<live-until ms> <ttl ms> <attempt> 1 <channel>"
-- KEYS[6] entries key  hash: acquisition token -> owner, for the holding owner's acquisitions
-- KEYS[7] owners key   hash: waiting acquisition token -> its owner
-- ARGV[1] token        this acquisition's random token
-- ARGV[2] ttl          ms the hold lasts at least from now unless extended; what a grant gives
-- ARGV[3] queue mode   "0": never queue; "1": join the queue on failure; "2": already queued
-- ARGV[4] sleep cap    ms the caller will sleep at most before it tries again
-- ARGV[5] grace        ms a queue entry stays live past the caller's planned retry
-- ARGV[6] channel      pub/sub channel on which this waiter's process listens for its grant
-- ARGV[7] attempt      the caller's attempt number, named by a grant
-- ARGV[8] polls        "1": the caller tries again when the holder expires; "0": at its sleep cap
-- ARGV[9] queue life   ms the queue keys live after a join or refresh
-- ARGV[10] owner       who acquires: acquisitions of one owner share the lock
--
-- Replies:
--   {1, fence, count}  acquired; fence is the owner's fencing token (the same for all its
--                      acquisitions), count how many acquisitions of the owner hold it now
--   {0, pttl}          held by another owner for pttl more ms (10 when only a line is left)
--   {0, pttl, requeued, now}
--                      the same for a caller in the queue (ARGV[3] ~= "0"); now is the server
--                      time in microseconds; requeued is 1 when the caller's entry (ARGV[3] =
--                      "2") was gone and is back, at the end of the line
-- Errors: WRONGTYPE, and "not an integer" from INCR, when keys hold other types.

-- @include fence
-- @include semaphore
-- @include reentrant

local k = {
  lock = KEYS[1],
  permits = KEYS[2],
  fence = KEYS[3],
  queue = KEYS[4],
  waiters = KEYS[5],
  entries = KEYS[6],
  owners = KEYS[7],
}
local token, ttl, mode, owner = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[10]
local nowMs, nowMicros = serverNow()

purgeExpired(k, nowMs)
dropStaleEntries(k)

-- The owner holds it: one more entry (or the same one again, for a retried attempt).
local score = tonumber(redis.call('ZSCORE', k.lock, owner))
if score then
  local expiry = math.max(score, nowMs + ttl)
  redis.call('ZADD', k.lock, expiry, owner)
  keepHolders(k, expiry, nowMs)
  leaveQueue(k, token)
  redis.call('HSET', k.entries, token, owner)
  keepAlive(k.entries, expiry - nowMs)
  local fence = tonumber(string.match(redis.call('HGET', k.permits, owner) or '', ' (%d+)$'))
  if not fence then
    fence = nextFence(k.fence)
    redis.call('HSET', k.permits, owner, '1 ' .. string.format('%d', fence))
  end
  return { 1, fence, redis.call('HLEN', k.entries) }
end

local self = nil
if mode == '2' then
  self = token
end
local _, selfFence, used = grantFitting(k, nowMs, 1, usedPermits(k, nowMs, 1), self, ownerOfGranted(k))
keepEntries(k, nowMs)
if selfFence then
  return { 1, selfFence, 1 }
end

-- Free, and nobody waits in line: the owner takes it.
if used == 0 and redis.call('ZCARD', k.queue) == 0 then
  leaveQueue(k, token)
  local fence = addHolder(k, owner, 1, nowMs + ttl)
  keepHolders(k, nowMs + ttl, nowMs)
  redis.call('HSET', k.entries, token, owner)
  keepAlive(k.entries, ttl)
  return { 1, fence, 1 }
end

local first = redis.call('ZRANGE', k.lock, 0, 0, 'WITHSCORES')
local pttl = 10
if first[2] then
  pttl = math.max(1, tonumber(first[2]) - nowMs)
end

if mode ~= '0' then
  local q = {
    ttl = ARGV[2],
    sleepCap = ARGV[4],
    grace = ARGV[5],
    channel = ARGV[6],
    attempt = ARGV[7],
    polls = ARGV[8],
    queueLife = ARGV[9],
  }
  local added, queueLife = joinQueue(k, token, q, nowMs, nowMicros, pttl, '1')
  redis.call('HSET', k.owners, token, owner)
  redis.call('PEXPIRE', k.owners, queueLife)
  local requeued = 0
  if mode == '2' and added == 1 then
    requeued = 1
  end
  return { 0, pttl, requeued, nowMicros }
end
return { 0, pttl }
