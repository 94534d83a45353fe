-- include/mutex: what the mutex's scripts share with the scripts of kinds built on a mutex key
-- (the election).

-- Compare-and-pexpire: pushes the lock's expiry to at least `ttl` ms from now if `token` holds
-- it, never shortening it (PEXPIRE GT, Redis 7.0). Returns the key's PTTL afterwards (>= ttl), 0
-- when the key is gone, -1 when it holds another token.
local function extendLock(lockKey, token, ttl)
  local current = redis.call('GET', lockKey)
  if not current then
    return 0
  end
  if current ~= token then
    return -1
  end
  redis.call('PEXPIRE', lockKey, ttl, 'GT')
  local pttl = redis.call('PTTL', lockKey)
  if pttl < 0 then
    -- No expiry at all (someone ran PERSIST): GT counts that as infinite and changes nothing.
    -- Give the key an expiry again, so the lock still lapses if its holder stops.
    redis.call('PEXPIRE', lockKey, ttl)
    pttl = tonumber(ttl)
  end
  return pttl
end
