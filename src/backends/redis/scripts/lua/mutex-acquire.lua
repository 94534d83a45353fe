-- mutex-acquire: take a free lock, take one a release granted us meanwhile, or report how long it
-- stays held.
--
-- A release grants the lock to the oldest live waiter by writing that waiter's token into the lock
-- key for a short claim window and telling it over pub/sub (see mutex-release.lua); the waiter then
-- holds the lock and claims it for its ttl. If this attempt finds such a grant, the message is
-- still on its way (or was lost, or came too late to trust): this attempt is the claim, the key
-- gets the full ttl from now and the fence issued by the grant is returned. Queue entries keep
-- FIFO order for waiters and say how long each stays live without a refresh, so a release can skip
-- waiters that gave up without leaving. Of one process's waiters for a lock only one polls at the
-- holder's expiry (ARGV[8]); the others sleep until a grant or the end of their sleep cap, which
-- the caller keeps to a renew period however long it waits, and then refresh their entry. So an
-- entry outlives its waiter by at most the renew period plus the grace, and the queue and waiters
-- keys, which every join and refresh sets to expire after ARGV[9] ms, outlive their last waiter
-- by no more than that.
--
-- KEYS[1] lock key     string: the holder's token (or a granted waiter's); always has a PX expiry
-- KEYS[2] fence key    the last fencing token (include/fence.lua)
--                      (include/fence.lua)
-- KEYS[3] queue key    zset: waiter token -> arrival time in server microseconds (FIFO order);
--                      expires ARGV[9] ms after the latest join or refresh
-- KEYS[4] waiters key  hash: waiter token -> "<live-until server ms> <ttl ms> <attempt> <wake channel>";
--                      expires with the queue key
-- ARGV[1] token        this acquisition's random token (32 lowercase hex characters)
-- ARGV[2] ttl          lock time to live, ms (positive integer); also what a grant to us gets
-- ARGV[3] queue mode   "0": never queue (try once); "1": join the queue on failure;
--                      "2": already queued by an earlier attempt: refresh the entry on failure,
--                      remove it on success
-- ARGV[4] sleep cap    ms the caller will sleep at most before it tries again (its remaining wait,
--                      at most the renew period)
-- ARGV[5] grace        ms a queue entry stays live past the caller's planned retry
-- ARGV[6] channel      pub/sub channel on which this waiter's process listens for its wake-up
-- ARGV[7] attempt      the caller's attempt number; a grant names the attempt it followed, so the
--                      waiter counts the grant's validity from that attempt's send time
-- ARGV[8] polls        "1": the caller tries again when the holder's PTTL runs out (it polls for
--                      its process), so its entry lives min(pttl, sleep cap) + grace; "0": it sleeps
--                      until granted or its sleep cap ends, so its entry lives sleep cap + grace
-- ARGV[9] queue life   ms the queue and waiters keys live after a join or refresh: at least the
--                      longest any caller's entry lives (renew period + grace), which it caps
--
-- Replies:
--   {1, fence}  acquired (or found granted to us); fence is this acquisition's fencing token. If
--               the last token was lost (evicted, FLUSHALL) before a grant was picked up, the grant
--               draws a new one from the server clock (include/fence.lua), above every earlier one
--   {0, pttl}   held by someone else for pttl more ms (ARGV[3] = "0": the caller does not queue)
--   {0, pttl, requeued, now}
--               the same for a caller in the queue; now is the server time in microseconds when
--               the entry was written (a grant's validity is placed on the waiter's clock by it);
--               requeued is 1 when the caller's entry (ARGV[3] = "2") was gone: the queue was lost
--               (restart, FLUSHALL, expiry after the caller missed its refresh) or a release
--               dropped it while its process could not be told; it is back, at the end of the line
--   {-1, code}  the key holds data latchkey did not write: code 1 = a string without expiry,
--               code 2 = a string that is not a latchkey token
-- Errors: WRONGTYPE from SET/ZADD/HSET, and "not an integer" from INCR, when keys hold other types.

-- @include fence

local lockKey, fenceKey, queueKey, waitersKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local token = ARGV[1]

-- Only a queued caller that found the lock free still has a queue entry: a grant popped it.
local function won()
  if ARGV[3] == '2' then
    redis.call('ZREM', queueKey, token)
    redis.call('HDEL', waitersKey, token)
  end
  return { 1, nextFence(fenceKey) }
end

-- SET NX GET (Redis >= 7.0) tries the lock and tells us who holds it in one call.
local current = redis.call('SET', lockKey, token, 'NX', 'PX', ARGV[2], 'GET')
if not current then
  return won()
end
if current == token then
  -- Granted by a release; the grant already drew our fence, which nobody can have drawn since.
  redis.call('SET', lockKey, token, 'PX', ARGV[2])
  local fence = tonumber(redis.call('GET', fenceKey))
  if not fence then
    fence = nextFence(fenceKey)
  end
  return { 1, fence }
end

local pttl = redis.call('PTTL', lockKey)
if pttl < 0 then
  return { -1, 1 }
end
if #current ~= 32 or not string.match(current, '^%x+$') then
  return { -1, 2 }
end

if ARGV[3] ~= '0' then
  local now = redis.call('TIME')
  local nowMicros = tonumber(now[1]) * 1000000 + tonumber(now[2])
  local sleep = tonumber(ARGV[4])
  if ARGV[8] == '1' then
    sleep = math.min(pttl, sleep)
  end
  local queueLife = tonumber(ARGV[9])
  local life = math.min(sleep + tonumber(ARGV[5]), queueLife)
  local liveUntil = math.floor(nowMicros / 1000) + life
  local added = redis.call('ZADD', queueKey, 'NX', nowMicros, token)
  -- %d: `..` would format the number with %.14g.
  local entry = string.format('%d', liveUntil) .. ' ' .. ARGV[2] .. ' ' .. ARGV[7] .. ' ' .. ARGV[6]
  redis.call('HSET', waitersKey, token, entry)
  redis.call('PEXPIRE', queueKey, queueLife)
  redis.call('PEXPIRE', waitersKey, queueLife)
  local requeued = 0
  if ARGV[3] == '2' and added == 1 then
    requeued = 1
  end
  return { 0, pttl, requeued, nowMicros }
end
return { 0, pttl }
