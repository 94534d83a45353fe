-- mutex-inspect: read a lock's state without changing it.
--
-- KEYS[1] lock key     string: the holder's token (or a granted waiter's)
-- KEYS[2] fence key    the last fencing token issued
-- KEYS[3] queue key    zset of waiting tokens
--
-- Reply: {token or false, pttl ms (-2 when free), last fence or false, number of queued waiters}

local value = redis.call('GET', KEYS[1])
return { value, redis.call('PTTL', KEYS[1]), redis.call('GET', KEYS[2]), redis.call('ZCARD', KEYS[3]) }
