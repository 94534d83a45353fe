-- include/reentrant: what the reentrant lock's scripts share, on top of include/semaphore (a
-- semaphore of one permit whose holder is an owner, not an acquisition). Each acquisition keeps
-- its own token; the entries hash maps the holding owner's acquisition tokens to the owner, so
-- its length is the hold count, a retried acquire counts once, and a stale handle (from a hold
-- that expired before the owner took the lock again) finds no entry. The owners hash maps each
-- queued acquisition token to its owner. The functions take the semaphore's keys table plus the
-- fields entries and owners.

-- A holder that expired leaves entries behind; they go once the lock has no holder.
local function dropStaleEntries(k)
  if redis.call('ZCARD', k.lock) == 0 then
    redis.call('DEL', k.entries)
  end
end

-- Removes `token`'s queue entry, if it has one.
local function leaveQueue(k, token)
  redis.call('ZREM', k.queue, token)
  redis.call('HDEL', k.waiters, token)
  redis.call('HDEL', k.owners, token)
end

-- For grantFitting: the owner a granted waiter's acquisition holds for, made its first entry.
local function ownerOfGranted(k)
  return function(token)
    local owner = redis.call('HGET', k.owners, token) or token
    redis.call('HDEL', k.owners, token)
    redis.call('DEL', k.entries)
    redis.call('HSET', k.entries, token, owner)
    return owner
  end
end

-- Keeps the entries alive as long as the holder: they mean nothing after it.
local function keepEntries(k, nowMs)
  local holder = redis.call('ZRANGE', k.lock, 0, 0, 'WITHSCORES')
  if holder[2] then
    keepAlive(k.entries, tonumber(holder[2]) - nowMs)
  end
end
