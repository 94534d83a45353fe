-- semaphore-acquire: take permits of a counting semaphore if they are free and nobody waits ahead,
-- pick up permits a release granted us, or report how long the holders stay.
--
-- Each holder has its own expiry, so a crashed holder's permits come back after its own ttl
-- (expired holders are dropped lazily, here and in the other semaphore scripts). Waiting callers
-- queue in arrival order and are served strictly in that order: a caller wanting 3 is never
-- overtaken by a later caller wanting 1. A release grants as many queued callers as then fit (see
-- include/semaphore.lua); so does this script when permits came back by expiry, the caller itself
-- included when it is at the head of the line. The limit belongs to the name while anyone holds
-- or waits: a caller with another limit is refused. Queue entries live and refresh as in
-- mutex-acquire.lua.
--
-- KEYS[1] lock key     zset: holder token -> expiry in server ms
-- KEYS[2] permits key  hash: holder token -> "<permits> <fencing token>"
-- KEYS[3] limit key    string: the limit the name is in use with; lives as long as a holder or
--                      a queue entry may
-- KEYS[4] fence key    the last fencing token (include/fence.lua)
-- KEYS[5] queue key    zset: waiter token -> arrival time in server microseconds (FIFO order)
-- KEYS[6] waiters key  hash: waiter token -> "<live-until ms> <ttl ms> <attempt> <permits> <channel>"
-- ARGV[1] token        this acquisition's random token
-- ARGV[2] ttl          how long the permits are held unless extended, ms; also what a grant gives
-- ARGV[3] queue mode   "0": never queue (try once); "1": join the queue on failure;
--                      "2": already queued by an earlier attempt: refresh the entry on failure
-- ARGV[4] sleep cap    ms the caller will sleep at most before it tries again
-- ARGV[5] grace        ms a queue entry stays live past the caller's planned retry
-- ARGV[6] channel      pub/sub channel on which this waiter's process listens for its grant
-- ARGV[7] attempt      the caller's attempt number, named by a grant
-- ARGV[8] polls        "1": the caller tries again when the earliest holder expires, so its entry
--                      lives min(that, sleep cap) + grace; "0": sleep cap + grace
-- ARGV[9] queue life   ms the queue and waiters keys live after a join or refresh
-- ARGV[10] limit       the semaphore's limit (positive integer)
-- ARGV[11] permits     how many permits the caller wants, 1..limit
--
-- Replies:
--   {1, fence}    acquired (or found granted to us); fence is this holder's fencing token
--   {0, pttl}     not now: the earliest live holder expires in pttl ms (10 when none does, when
--                 the line still holds entries this call could not drop)
--   {0, pttl, requeued, now}
--                 the same for a caller in the queue (ARGV[3] ~= "0"); now is the server time in
--                 microseconds (a grant's claim window is placed by it); requeued is 1 when the
--                 caller's entry (ARGV[3] = "2") was gone and is back, at the end of the line
--   {-2, limit}   the name is in use with another limit
-- Errors: WRONGTYPE, and "not an integer" from INCR, when keys hold other types.

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
local token, ttl, mode = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local limitText, wanted = ARGV[10], tonumber(ARGV[11])
local limit = tonumber(limitText)
local nowMs, nowMicros = serverNow()

purgeExpired(k, nowMs)

local stored = redis.call('GET', k.limit)
if
  stored
  and stored ~= limitText
  and (redis.call('ZCARD', k.lock) > 0 or redis.call('ZCARD', k.queue) > 0)
then
  return { -2, tonumber(stored) }
end

local function leaveQueue()
  redis.call('ZREM', k.queue, token)
  redis.call('HDEL', k.waiters, token)
end

-- Granted by a release: the grant drew our fence; the permits get the full ttl from now.
local score = tonumber(redis.call('ZSCORE', k.lock, token))
if score and score > nowMs then
  local expiry = math.max(score, nowMs + ttl)
  redis.call('ZADD', k.lock, expiry, token)
  keepHolders(k, expiry, nowMs)
  leaveQueue()
  local fence = tonumber(string.match(redis.call('HGET', k.permits, token) or '', ' (%d+)$'))
  if not fence then
    fence = nextFence(k.fence)
    redis.call('HSET', k.permits, token, wanted .. ' ' .. string.format('%d', fence))
  end
  return { 1, fence }
end

-- The name takes our limit (nobody holds or waits with another); each holder added or queue
-- entry made below keeps it alive as long as it needs it.
if stored ~= limitText then
  redis.call('SET', k.limit, limitText, 'PX', ttl)
end

local self = nil
if mode == '2' then
  self = token
end
local _, selfFence, used = grantFitting(k, nowMs, limit, usedPermits(k, nowMs, limit), self)
if selfFence then
  return { 1, selfFence }
end

-- Not queued (or our entry is gone): go ahead only when nobody waits in line.
if wanted <= limit - used and redis.call('ZCARD', k.queue) == 0 then
  local fence = addHolder(k, token, wanted, nowMs + ttl)
  keepHolders(k, nowMs + ttl, nowMs)
  return { 1, fence }
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
  local added, queueLife = joinQueue(k, token, q, nowMs, nowMicros, pttl, ARGV[11])
  keepAlive(k.limit, queueLife)
  local requeued = 0
  if mode == '2' and added == 1 then
    requeued = 1
  end
  return { 0, pttl, requeued, nowMicros }
end
return { 0, pttl }
