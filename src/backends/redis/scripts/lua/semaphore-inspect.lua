-- semaphore-inspect: read a semaphore's live holders, limit, last fencing token and queue length.
--
-- Read-only: expired holders are left for the next writing script to drop, and not reported.
--
-- KEYS[1] lock key     zset: holder token -> expiry in server ms
-- KEYS[2] permits key  hash: holder token -> "<permits> <fencing token>"
-- KEYS[3] limit key    string: the limit the name is in use with
-- KEYS[4] fence key    the last fencing token issued
-- KEYS[5] queue key    zset: waiting tokens
-- No ARGV.
--
-- Replies:
--   {limit, fence, queued, token1, remaining1, permits1, fence1, token2, ...}: limit is nil when
--   nobody holds or waits; fence is nil before the first holder; then one group of four per live
--   holder, earliest expiry first

-- @include fence
-- @include semaphore

local k = { lock = KEYS[1], permits = KEYS[2], limit = KEYS[3], fence = KEYS[4], queue = KEYS[5] }
local nowMs = serverNow()
local live = redis.call('ZRANGE', k.lock, '(' .. string.format('%d', nowMs), '+inf', 'BYSCORE', 'WITHSCORES')
local queued = redis.call('ZCARD', k.queue)
local limit = false
if #live > 0 or queued > 0 then
  limit = tonumber(redis.call('GET', k.limit)) or false
end
local reply = { limit, tonumber(redis.call('GET', k.fence)) or false, queued }
for i = 1, #live, 2 do
  local record = redis.call('HGET', k.permits, live[i]) or ''
  local permits, fence = string.match(record, '^(%d+) (%d+)$')
  reply[#reply + 1] = live[i]
  reply[#reply + 1] = tonumber(live[i + 1]) - nowMs
  reply[#reply + 1] = tonumber(permits) or 0
  reply[#reply + 1] = tonumber(fence) or 0
end
return reply
