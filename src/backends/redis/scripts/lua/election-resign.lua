-- election-resign: before the leader's lock is released (mutex-release, which may grant it to the
-- next candidate at once), take its value down and tell observers, so nobody reads the old value
-- as the new leader's.
--
-- KEYS[1] value key  string: "<token> <fencing token> <value>" of the leader that proclaimed
-- ARGV[1] token      the resigning leader's token
-- ARGV[2] channel    the election's changes channel
--
-- Replies:
--   1   the value was this token's and is gone
--   0   it was not (never proclaimed, expired, or another leader's): nothing changed

local value = redis.call('GET', KEYS[1])
if not value or string.sub(value, 1, #ARGV[1] + 1) ~= ARGV[1] .. ' ' then
  return 0
end
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[2], '0')
return 1
