-- include/fence: the next fencing token of a lock name.
--
-- A token is the Redis server's clock in microseconds (TIME), or one more than the name's last
-- token when that is not below the clock (several acquisitions in one microsecond, a clock that
-- went back). The last token is kept FENCE_KEEP_MS after each acquisition, so no key of a name
-- outlives its use by more than that. Tokens grow per name:
-- - while the last token is kept, whatever the clock does;
-- - across its loss (the name idle for FENCE_KEEP_MS, FLUSHALL, eviction, a restart without
--   persistence) while the clock does not go back by more than the time since the last token;
-- - across a failover to a replica that lacks the latest tokens (asynchronous replication), while
--   the new primary's clock is not behind the old one's by more than the time from the lost token
--   to the next acquisition (seconds: the failover itself), which NTP-synchronised servers meet.
-- A counter counting up by one would hand out a lost token again after such a failover.
-- Tokens stay below 2^53 until the year 2255. Steady state: TIME and one SET … GET; a script
-- that has read TIME already passes its reading as `clock` (µs) and saves the second one.

local FENCE_KEEP_MS = 60000

local function nextFence(fenceKey, clock)
  if not clock then
    local now = redis.call('TIME')
    clock = tonumber(now[1]) * 1000000 + tonumber(now[2])
  end
  -- %d: `..` would format the number with %.14g, wrong from 10^14 on.
  -- A key of another type fails the SET (WRONGTYPE) and the script with it.
  local previous = redis.call('SET', fenceKey, string.format('%d', clock), 'PX', FENCE_KEEP_MS, 'GET')
  local last = previous and tonumber(previous)
  if previous and not last then
    -- Text latchkey did not write: put it back and fail as INCR would (a key conflict).
    redis.call('SET', fenceKey, previous)
    error({ err = 'ERR value is not an integer: the fence key holds data latchkey did not write' })
  end
  if last and last >= clock then
    local fence = last + 1
    redis.call('SET', fenceKey, string.format('%d', fence), 'PX', FENCE_KEEP_MS)
    return fence
  end
  return clock
end
