-- mutex-release: compare-and-delete, then grant the lock to the oldest live waiter and tell only it.
--
-- The grant draws the waiter's fencing token, writes the waiter's token into the lock key for the
-- waiter's ttl and only then publishes "<token> <fence> <attempt>" on its channel, naming the
-- waiter's latest attempt Redis ran (the grant's validity counts from that attempt's send time):
-- the waiter holds the lock from here on, with nothing more to send. The message is the script's
-- last write, so a message exists only for a token the key really got. Also used to withdraw a
-- waiter that gives up (timeout, abort) and to clean up an acquire whose reply was lost: the
-- token's queue entry is removed, and a grant to it is passed on.
-- Waiters whose entry is past its live-until time gave up without leaving, and waiters whose
-- channel has no subscriber cannot be told; both are dropped, at most `maxSkip` per call so the
-- script stays bounded. Subscribers are counted with PUBSUB NUMSUB, which counts exact-channel
-- subscribers of this server only: a PSUBSCRIBE client (a monitor) does not make a dead waiter
-- look alive, as PUBLISH's receiver count would. If that many are dropped the lock is left free,
-- and a waiter's poll at the holder's expiry takes it. A grant to a waiter that left without
-- withdrawing while its process still listens lapses after its ttl, as a holder's lock does when
-- the holder stops without releasing.
-- A release that released leaves a tombstone for ARGV[3] ms, so that the same release run again
-- (a client that resends unanswered commands after a reconnect) reports released, not what it
-- finds after its own first run.
--
-- KEYS[1] lock key       string: holder token (or a granted waiter's)
-- KEYS[2] fence key      integer counter: a grant draws the waiter's fencing token from it
-- KEYS[3] queue key      zset: waiter token -> arrival time in server microseconds
-- KEYS[4] waiters key    hash: waiter token -> "<live-until server ms> <ttl ms> <attempt> <wake channel>"
-- KEYS[5] tombstone key  string "<lock key>:released:<ARGV[1]>": this release already released
-- ARGV[1] token          the token to release (or withdraw)
-- ARGV[2] withdraw       "1": also remove the token's own queue entry (a waiter leaving); "0": a
--                        holder's release (a holder has no queue entry: winning removed it)
-- ARGV[3] tombstone ms   how long the tombstone stays (the caller's time budget for this
--                        release, positive integer); "0": leave none and look for none
--
-- Replies:
--   2   released and granted to the next waiter, who was told
--   1   released; no live waiter, the key is gone (or: a run of this release already released)
--   0   the key did not exist (expired or deleted before this call)
--   -1  the key holds another token (taken by someone else)

-- @include fence

local lockKey, fenceKey, queueKey, waitersKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local tombstoneKey = KEYS[5]
local token = ARGV[1]
local tombstoneMs = ARGV[3]
local maxSkip = 64

if ARGV[2] == '1' then
  redis.call('ZREM', queueKey, token)
  redis.call('HDEL', waitersKey, token)
end

local current = redis.call('GET', lockKey)
if current ~= token then
  if tombstoneMs ~= '0' and redis.call('EXISTS', tombstoneKey) == 1 then
    return 1
  end
  if not current then
    return 0
  end
  return -1
end

local function leaveTombstone()
  if tombstoneMs ~= '0' then
    redis.call('SET', tombstoneKey, '1', 'PX', tombstoneMs)
  end
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
    if
      liveUntil
      and tonumber(liveUntil) > nowMs
      and redis.call('PUBSUB', 'NUMSUB', channel)[2] > 0
    then
      local fence = nextFence(fenceKey)
      redis.call('SET', lockKey, waiter, 'PX', ttl)
      leaveTombstone()
      -- %d: `..` would format the fence with %.14g, wrong from 10^14 on.
      redis.call('PUBLISH', channel, waiter .. ' ' .. string.format('%d', fence) .. ' ' .. attempt)
      return 2
    end
  end
end

redis.call('DEL', lockKey)
leaveTombstone()
return 1
