-- reentrant-release: end one acquisition of the holding owner; when it was the owner's last, free
-- the lock and grant it to the head of the line.
--
-- Also used to withdraw a waiter that gives up and to clean up an acquire whose reply was lost:
-- the token's queue entry goes, and an entry it was granted ends like a release. A release that
-- released leaves a tombstone for ARGV[3] ms, so that the same release run again reports released.
--
-- KEYS[1] lock key       zset: the holding owner -> expiry in server ms
-- KEYS[2] permits key    hash: the holding owner -> "1 <fencing token>"
-- KEYS[3] fence key      the last fencing token: a grant draws the new holder's above it
-- KEYS[4] queue key      zset: waiting acquisition token -> arrival in server microseconds
-- KEYS[5] waiters key    hash: waiting token -> "<live-until ms> <ttl ms> <attempt> 1 <channel>"
-- KEYS[6] entries key    hash: acquisition token -> owner, for the holding owner's acquisitions
-- KEYS[7] owners key     hash: waiting acquisition token -> its owner
-- KEYS[8] tombstone key  string "<lock key>:released:<ARGV[1]>": this release already released
-- ARGV[1] token          the acquisition to end (or withdraw)
-- ARGV[2] withdraw       "1": also remove the token's queue entry; "0": a holder's release
-- ARGV[3] tombstone ms   how long the tombstone stays (positive integer); "0": none, look for none
--
-- Replies:
--   3   released; other acquisitions of the same owner still hold the lock
--   2   released, the lock is free, and the head of the line was granted it and told
--   1   released, the lock is free, nobody granted (or: a run of this release already released)
--   0   the token held nothing (its hold expired or was deleted, or it was never granted)

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
local tombstoneKey = KEYS[8]
local token, tombstoneMs = ARGV[1], ARGV[3]
local nowMs = serverNow()

purgeExpired(k, nowMs)
dropStaleEntries(k)
if ARGV[2] == '1' then
  leaveQueue(k, token)
end

local result = 0
local owner = redis.call('HGET', k.entries, token)
if owner then
  redis.call('HDEL', k.entries, token)
  result = 1
  if tombstoneMs ~= '0' then
    redis.call('SET', tombstoneKey, '1', 'PX', tombstoneMs)
  end
  if redis.call('HLEN', k.entries) > 0 then
    return 3
  end
  redis.call('ZREM', k.lock, owner)
  redis.call('HDEL', k.permits, owner)
elseif tombstoneMs ~= '0' and redis.call('EXISTS', tombstoneKey) == 1 then
  result = 1
end

if redis.call('ZCARD', k.lock) == 0 then
  local told = grantFitting(k, nowMs, 1, 0, nil, ownerOfGranted(k))
  keepEntries(k, nowMs)
  if told > 0 and result == 1 then
    result = 2
  end
end
return result
