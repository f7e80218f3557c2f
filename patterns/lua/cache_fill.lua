-- cache_fill.lua: write a freshly computed value, but only if nothing invalidated it meanwhile.
--
-- The classic race: a reader misses, starts a slow fetch of the OLD data; a writer
-- updates the database and deletes the cache entry; the reader then writes the old data
-- back, where it stays until the TTL runs out. Invalidation deletes the fill token too,
-- so the slow reader's token no longer matches and its stale write is refused.
--
-- KEYS[1]  the entry (hash {value, delta})      KEYS[2]  the fill token
-- ARGV[1]  the token cache_read.lua handed out  ARGV[2]  value as JSON text
-- ARGV[3]  delta: ms the computation took       ARGV[4]  TTL in ms (freshness + stale grace)
--
-- Returns 1 when written, 0 when refused (the token was gone or replaced).
if redis.call('GET', KEYS[2]) ~= ARGV[1] then
  -- Refused, unless this very value is already there: the same call sent again after its reply
  -- was lost (the first one wrote it and deleted the token).
  if redis.call('HGET', KEYS[1], 'value') == ARGV[2] then
    return 1
  end
  return 0
end
redis.call('HSET', KEYS[1], 'value', ARGV[2], 'delta', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])   -- in the same step: never an entry without a TTL
redis.call('DEL', KEYS[2])
return 1
