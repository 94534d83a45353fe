-- mutex-release: compare-and-delete, then grant the lock to the oldest live waiter and tell only it.
--
-- The grant writes the waiter's token into the lock key for the waiter's ttl, draws its fencing
-- token, and publishes "<token> <fence> <attempt>" on its channel, naming the waiter's latest
-- attempt Redis ran (the grant's validity counts from that attempt's send time): the waiter holds
-- the lock from here on, with nothing more to send. Also used to withdraw a waiter that gives up
-- (timeout, abort) and to clean up an acquire whose reply was lost: the token's queue entry is
-- removed, and a grant to it is passed on.
-- Waiters whose entry is past its live-until time gave up without leaving, and waiters whose
-- channel has no subscriber (PUBLISH reaches nobody: the process died or its connection is down;
-- the count is exact on one server, a Redis Cluster would need sharded SPUBLISH)
-- cannot be told; both are dropped, at most `maxSkip` per call so the script stays bounded. If
-- that many are dropped the lock is left free, and a waiter's poll at the holder's expiry takes
-- it. A dropped grant still used up a fencing token: tokens grow, but not always by one. A grant
-- to a waiter that left without withdrawing while its process still listens lapses after its ttl,
-- as a holder's lock does when the holder stops without releasing.
--
-- KEYS[1] lock key     string: holder token (or a granted waiter's)
-- KEYS[2] fence key    integer counter: a grant draws the waiter's fencing token from it
-- KEYS[3] queue key    zset: waiter token -> arrival time in server microseconds
-- KEYS[4] waiters key  hash: waiter token -> "<live-until server ms> <ttl ms> <attempt> <wake channel>"
-- ARGV[1] token        the token to release (or withdraw)
-- ARGV[2] withdraw     "1": also remove the token's own queue entry (a waiter leaving); "0": a
--                      holder's release (a holder has no queue entry: winning removed it)
--
-- Replies:
--   2   released and granted to the next waiter, who was told
--   1   released; no live waiter, the key is gone
--   0   the key did not exist (expired or deleted before this call)
--   -1  the key holds another token (taken by someone else)

local lockKey, fenceKey, queueKey, waitersKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local token = ARGV[1]
local maxSkip = 64

if ARGV[2] == '1' then
  redis.call('ZREM', queueKey, token)
  redis.call('HDEL', waitersKey, token)
end

local current = redis.call('GET', lockKey)
if not current then
  return 0
end
if current ~= token then
  return -1
end

local nowMs
for _ = 1, maxSkip do
  local head = redis.call('ZPOPMIN', queueKey)
  if #head == 0 then
    break
  end
  if not nowMs then
    local now = redis.call('TIME')
    nowMs = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
  end
  local waiter = head[1]
  local entry = redis.call('HGET', waitersKey, waiter)
  redis.call('HDEL', waitersKey, waiter)
  if entry then
    local liveUntil, ttl, attempt, channel = string.match(entry, '^(%d+) (%d+) (%d+) (.+)$')
    if liveUntil and tonumber(liveUntil) > nowMs then
      local message = waiter .. ' ' .. redis.call('INCR', fenceKey) .. ' ' .. attempt
      if redis.call('PUBLISH', channel, message) > 0 then
        redis.call('SET', lockKey, waiter, 'PX', ttl)
        return 2
      end
    end
  end
end

redis.call('DEL', lockKey)
return 1
