-- mutex-release: compare-and-delete, then grant the lock to the oldest live waiter and tell only it.
--
-- The grant draws the waiter's fencing token, writes the waiter's token into the lock key and only
-- then publishes "<token> <fence> <attempt> <claim ms> <grant server µs>" on its channel, naming
-- the waiter's latest attempt Redis ran: the waiter holds the lock from here on without a round
-- trip. The key gets only a claim window of CLAIM_MS (at most the waiter's ttl), and the waiter
-- claims the lock by extending it to its ttl within half the window (unless it releases sooner);
-- until then it counts its validity as the claim window from the grant, placed on its own clock
-- by its attempt (sent before Redis ran it) and the server time between that attempt and the
-- grant. So a waiter whose
-- process is stopped, or whose host is cut off behind a connection that still looks open, holds up
-- the line for the claim window instead of its ttl, and when it wakes its validity has passed: it
-- never believes in a grant that lapsed. The next waiter in line is told "<token> next <claim ms>"
-- and looks again when the window ends; if the grant lapsed unclaimed it takes the lock.
-- The grant message is the script's last write for the granted waiter, so a message exists only
-- for a token the key really got. Also used to withdraw a waiter that gives up (timeout, abort)
-- and to clean up an acquire whose reply was lost: the token's queue entry is removed, and a grant
-- to it is passed on.
-- Waiters whose entry is past its live-until time gave up without leaving, and waiters whose
-- channel has no subscriber cannot be told; both are dropped, at most `maxSkip` per call so the
-- script stays bounded. Subscribers are counted with PUBSUB NUMSUB, which counts exact-channel
-- subscribers of this server only: a PSUBSCRIBE client (a monitor) does not make a dead waiter
-- look alive, as PUBLISH's receiver count would. If that many are dropped the lock is left free,
-- and a waiter's poll at the holder's expiry takes it.
-- A release that released leaves a tombstone for ARGV[3] ms, so that the same release run again
-- (a client that resends unanswered commands after a reconnect) reports released, not what it
-- finds after its own first run.
--
-- KEYS[1] lock key       string: holder token (or a granted waiter's)
-- KEYS[2] fence key      the last fencing token: a grant draws the waiter's above it
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
-- Long enough for a live waiter to get the message and send its claim through a busy event loop,
-- short enough that the next waiter holds the lock within a second of the release.
local CLAIM_MS = 500

-- Tells the waiter now first in line (if any) that the grant ahead of it may lapse in claimMs.
local function tellNext(claimMs)
  local nextWaiter = redis.call('ZRANGE', queueKey, 0, 0)[1]
  if not nextWaiter then
    return
  end
  local entry = redis.call('HGET', waitersKey, nextWaiter)
  local channel = entry and string.match(entry, '^%d+ %d+ %d+ (.+)$')
  if channel then
    redis.call('PUBLISH', channel, nextWaiter .. ' next ' .. claimMs)
  end
end

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

local nowMs, nowMicros
for _ = 1, maxSkip do
  local head = redis.call('ZPOPMIN', queueKey)
  if #head == 0 then
    break
  end
  if not nowMs then
    local now = redis.call('TIME')
    nowMicros = tonumber(now[1]) * 1000000 + tonumber(now[2])
    nowMs = math.floor(nowMicros / 1000)
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
      local fence = nextFence(fenceKey, nowMicros)
      local claimMs = math.min(tonumber(ttl), CLAIM_MS)
      redis.call('SET', lockKey, waiter, 'PX', claimMs)
      leaveTombstone()
      -- %d: `..` would format the numbers with %.14g, wrong from 10^14 on.
      local message = waiter .. ' ' .. string.format('%d', fence) .. ' ' .. attempt .. ' '
        .. claimMs .. ' ' .. string.format('%d', nowMicros)
      redis.call('PUBLISH', channel, message)
      tellNext(claimMs)
      return 2
    end
  end
end

redis.call('DEL', lockKey)
leaveTombstone()
return 1
