-- reentrant-inspect: read the holding owner, its hold count and expiry, the last fencing token
-- and the queue length.
--
-- Read-only: an expired holder is reported as no holder, and left for the next writing script.
--
-- KEYS[1] lock key     zset: the holding owner -> expiry in server ms
-- KEYS[2] permits key  hash: the holding owner -> "1 <fencing token>"
-- KEYS[3] fence key    the last fencing token issued
-- KEYS[4] queue key    zset: waiting acquisition tokens
-- KEYS[5] entries key  hash: acquisition token -> owner, for the holding owner's acquisitions
-- No ARGV.
--
-- Replies:
--   {fence, queued}                                      nobody holds it
--   {fence, queued, owner, remaining ms, count, holder fence}  an owner holds it
--   fence is false before the first holder

-- @include fence
-- @include semaphore

local k = { lock = KEYS[1], permits = KEYS[2], fence = KEYS[3], queue = KEYS[4], entries = KEYS[5] }
local nowMs = serverNow()
local reply = { tonumber(redis.call('GET', k.fence)) or false, redis.call('ZCARD', k.queue) }
local holder = redis.call('ZRANGE', k.lock, '(' .. string.format('%d', nowMs), '+inf', 'BYSCORE', 'WITHSCORES')
if holder[1] then
  local fence = string.match(redis.call('HGET', k.permits, holder[1]) or '', ' (%d+)$')
  reply[3] = holder[1]
  reply[4] = tonumber(holder[2]) - nowMs
  reply[5] = redis.call('HLEN', k.entries)
  reply[6] = tonumber(fence) or 0
end
return reply
