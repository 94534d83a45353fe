-- include/fence: the next fencing token of a lock name, from a counter that expires.
--
-- The counter counts up by one per acquisition, and starts from the server's clock in
-- microseconds (TIME) whenever it is missing: a new name, a name unused for FENCE_KEEP_MS, or a
-- counter lost to eviction, FLUSHALL or a restart without persistence. An acquisition takes more
-- than a microsecond of the server's time, so the counter never runs ahead of the clock, and a
-- counter started again starts above every token drawn before it. So tokens grow per name across
-- the counter's loss, and no key of a name outlives its use by more than FENCE_KEEP_MS, relying on
-- the server's clock: it must not go back by more than the time since the counter was last used
-- (a step back while it is in use does no harm). Tokens stay below 2^53 until the year 2255.

local FENCE_KEEP_MS = 60000

local function nextFence(fenceKey)
  local fence = redis.call('INCR', fenceKey)
  if fence == 1 then
    local now = redis.call('TIME')
    fence = tonumber(now[1]) * 1000000 + tonumber(now[2])
    -- %d: `..` would format the fence with %.14g, wrong from 10^14 on.
    redis.call('SET', fenceKey, string.format('%d', fence), 'PX', FENCE_KEEP_MS)
  else
    redis.call('PEXPIRE', fenceKey, FENCE_KEEP_MS)
  end
  return fence
end
