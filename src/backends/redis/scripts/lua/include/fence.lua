-- include/fence: the next fencing token of a lock name, from a counter that expires.
--
-- The counter counts up by one per acquisition and lives FENCE_KEEP_MS from the moment it starts;
-- it starts from the server's clock in microseconds (TIME) whenever it is missing: a new name,
-- one whose counter ran out, or a counter lost to eviction, FLUSHALL or a restart without
-- persistence. An acquisition takes more than a microsecond of the server's time, so the counter
-- never runs ahead of the clock, and a counter started again starts above every token drawn
-- before it. So tokens grow per name across every restart of the counter, and no key of a name
-- outlives its use by more than FENCE_KEEP_MS, with one command per acquisition (no expiry to
-- push on each use). This relies on the server's clock: it must not go back by more than about
-- FENCE_KEEP_MS less the acquisitions since the counter started, in microseconds (a restart
-- draws from the clock). Tokens stay below 2^53 until the year 2255.

local FENCE_KEEP_MS = 60000

local function nextFence(fenceKey)
  local fence = redis.call('INCR', fenceKey)
  if fence == 1 then
    local now = redis.call('TIME')
    fence = tonumber(now[1]) * 1000000 + tonumber(now[2])
    -- %d: `..` would format the fence with %.14g, wrong from 10^14 on.
    redis.call('SET', fenceKey, string.format('%d', fence), 'PX', FENCE_KEEP_MS)
  end
  return fence
end
