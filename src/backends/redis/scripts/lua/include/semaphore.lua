-- include/semaphore: what the semaphore scripts share. Holders live in a zset (token -> expiry in
-- server ms) and a hash (token -> "<permits> <fencing token>"); waiters in a zset (token ->
-- arrival in server microseconds) and a hash (token -> "<live-until ms> <ttl ms> <attempt>
-- <permits> <wake channel>"). The functions take the keys as a table with the fields lock,
-- permits, limit (absent for the reentrant lock, whose limit is 1), fence, queue and waiters.

-- Expired holders dropped per call at most; waiters skipped per call at most. Both keep a call
-- bounded; what is left is handled by the next call.
local maxPurge = 64
local maxSkip = 64
-- A waiter granted by someone else's call holds for this claim window (at most its ttl) until it
-- claims the grant by extending it, as in mutex-release.lua: a waiter that is stopped or cut off
-- holds up the line this long, not for its ttl.
local CLAIM_MS = 500

-- The server's clock: ms and microseconds since the epoch.
local function serverNow()
  local now = redis.call('TIME')
  local seconds, micros = tonumber(now[1]), tonumber(now[2])
  return seconds * 1000 + math.floor(micros / 1000), seconds * 1000000 + micros
end

-- Lengthens the expiry of `key` to at least `ms` from now; never shortens it.
local function keepAlive(key, ms)
  local pttl = redis.call('PTTL', key)
  if pttl == -1 or (pttl >= 0 and pttl < ms) then
    redis.call('PEXPIRE', key, ms)
  end
end

-- Keeps the holder keys and the limit (if the kind has one) alive until `expiry`.
local function keepHolders(k, expiry, nowMs)
  local ms = expiry - nowMs
  keepAlive(k.lock, ms)
  keepAlive(k.permits, ms)
  if k.limit then
    keepAlive(k.limit, ms)
  end
end

-- Drops holders whose expiry has passed (at most maxPurge): their permits come back.
local function purgeExpired(k, nowMs)
  local expired = redis.call(
    'ZRANGE', k.lock, '-inf', string.format('%d', nowMs), 'BYSCORE', 'LIMIT', 0, maxPurge
  )
  if #expired > 0 then
    redis.call('ZREM', k.lock, unpack(expired))
    redis.call('HDEL', k.permits, unpack(expired))
  end
end

-- Permits held by live holders. A holder whose record is missing counts as holding all of them:
-- a damaged record must never let more callers in than the limit.
local function usedPermits(k, nowMs, limit)
  local live = redis.call('ZRANGE', k.lock, '(' .. string.format('%d', nowMs), '+inf', 'BYSCORE')
  if #live == 0 then
    return 0
  end
  local used = 0
  local records = redis.call('HMGET', k.permits, unpack(live))
  for i = 1, #live do
    used = used + (tonumber(string.match(records[i] or '', '^(%d+) ')) or limit)
  end
  return used
end

-- Makes `token` a holder of `permits` until `expiry`, with a fencing token of its own. The caller
-- keeps the keys alive (keepHolders) once for all the holders it adds.
local function addHolder(k, token, permits, expiry)
  local fence = nextFence(k.fence)
  redis.call('ZADD', k.lock, expiry, token)
  -- %d: `..` would format the fence with %.14g, wrong from 10^14 on.
  redis.call('HSET', k.permits, token, permits .. ' ' .. string.format('%d', fence))
  return fence
end

-- Grants queued waiters in arrival order while they fit in the free permits, and tells each on
-- its channel "<token> <fence> <attempt> <claim ms> <grant server µs>", the attempt Redis ran last
-- for it: it holds for the claim window until it claims the grant (see CLAIM_MS). Strict FIFO: it
-- stops at the first live waiter that does not fit, and tells that one "<token> next <claim ms>"
-- if it would fit once those grants lapse unclaimed, so it looks again when the window ends.
-- Waiters past their live-until, without an entry, or whose channel has no subscriber (they
-- cannot be told) are dropped, at most maxSkip. `self` is the caller of an acquire, granted for
-- its ttl without a message; `used` the permits held now. `holderOf` (optional) names the holder
-- a granted waiter becomes (the reentrant lock's owner); by default the waiter's own token.
-- Returns how many waiters were told, the caller's fence if it was granted, and the permits held
-- afterwards. Keeps the keys alive for the holders it added.
local function grantFitting(k, nowMs, limit, used, self, holderOf)
  local free = limit - used
  local told, skipped, selfFence, latest = 0, 0, nil, nil
  -- The longest claim window of the grants made to others, and the permits they hold.
  local claimMs, grantedPermits = nil, 0
  while (free > 0 or claimMs) and skipped < maxSkip do
    local head = redis.call('ZRANGE', k.queue, 0, 0)[1]
    if not head then
      break
    end
    local entry = redis.call('HGET', k.waiters, head)
    local liveUntil, ttl, attempt, permits, channel
    if entry then
      liveUntil, ttl, attempt, permits, channel =
        string.match(entry, '^(%d+) (%d+) (%d+) (%d+) (.+)$')
    end
    if
      not liveUntil
      or tonumber(liveUntil) <= nowMs
      or (head ~= self and redis.call('PUBSUB', 'NUMSUB', channel)[2] == 0)
    then
      redis.call('ZREM', k.queue, head)
      redis.call('HDEL', k.waiters, head)
      skipped = skipped + 1
    else
      permits = tonumber(permits)
      if permits > free then
        -- The first live waiter that does not fit: next in line behind the grants just made. It
        -- is told only if it would fit once they lapse unclaimed; otherwise holders from before
        -- keep it out, and it waits for them as any waiter does.
        if claimMs and head ~= self and permits <= free + grantedPermits then
          redis.call('PUBLISH', channel, head .. ' next ' .. claimMs)
        end
        break
      end
      redis.call('ZREM', k.queue, head)
      redis.call('HDEL', k.waiters, head)
      local holds = tonumber(ttl)
      if head ~= self then
        holds = math.min(holds, CLAIM_MS)
      end
      local expiry = nowMs + holds
      local holder = head
      if holderOf then
        holder = holderOf(head)
      end
      local fence = addHolder(k, holder, permits, expiry)
      latest = math.max(latest or expiry, expiry)
      free = free - permits
      if head == self then
        selfFence = fence
      else
        -- %d: `..` would format the numbers with %.14g, wrong from 10^14 on.
        redis.call('PUBLISH', channel, head .. ' ' .. string.format('%d', fence) .. ' ' .. attempt
          .. ' ' .. holds .. ' ' .. string.format('%d', nowMs * 1000))
        told = told + 1
        claimMs = math.max(claimMs or holds, holds)
        grantedPermits = grantedPermits + permits
      end
    end
  end
  if latest then
    keepHolders(k, latest, nowMs)
  end
  return told, selfFence, limit - free
end

-- Joins `token` to the line, or refreshes its entry. `q` holds the acquire's queue arguments
-- (ttl, sleepCap, grace, channel, attempt, polls, queueLife; see semaphore-acquire.lua): the
-- entry lives until the caller's next attempt plus the grace, as in mutex-acquire.lua, and the
-- line's keys queueLife ms. Returns 1 if the entry is new, and the queue life.
local function joinQueue(k, token, q, nowMs, nowMicros, pttl, permits)
  local sleep = tonumber(q.sleepCap)
  if q.polls == '1' then
    sleep = math.min(pttl, sleep)
  end
  local queueLife = tonumber(q.queueLife)
  local life = math.min(sleep + tonumber(q.grace), queueLife)
  local added = redis.call('ZADD', k.queue, 'NX', nowMicros, token)
  local entry = string.format('%d', nowMs + life) .. ' ' .. q.ttl .. ' ' .. q.attempt .. ' '
    .. permits .. ' ' .. q.channel
  redis.call('HSET', k.waiters, token, entry)
  redis.call('PEXPIRE', k.queue, queueLife)
  redis.call('PEXPIRE', k.waiters, queueLife)
  return added, queueLife
end
