-- cache_read.lua: read a cache entry and, when it must be (re)computed, decide who computes it.
--
-- Reading and claiming the right to fill happen in one step, so two callers can never
-- both believe they are the only one filling, and an invalidation that lands between a
-- caller's miss and its write is always noticed (see cache_fill.lua). The client calls it
-- when cache_peek.lua found no plain hit; it decides afresh (the entry may have been filled
-- or invalidated since), and answers a plain hit too.
--
-- KEYS[1]  the entry: a hash {value = JSON text, delta = ms the last computation took}
-- KEYS[2]  the fill token: whoever presents it may write the entry
-- ARGV[1]  a fresh random token, used if this caller becomes the filler
-- ARGV[2]  how long a fill token lives, ms (a crashed filler blocks others no longer)
-- ARGV[3]  stale grace, ms: the last part of the entry's TTL, when it is stale but servable
-- ARGV[4]  early-refresh factor drawn by the client: beta * -ln(rand()), 0 disables it
-- ARGV[5]  1 = single flight (one filler at a time), 0 = every caller that misses may fill
--
-- Returns {value or nil, ms the entry stays fresh (-1 on a miss), fill token or nil, 1 if new}
local entry = redis.call('HMGET', KEYS[1], 'value', 'delta')
local value, delta = entry[1], tonumber(entry[2]) or 0
local stale_ms, factor = tonumber(ARGV[3]), tonumber(ARGV[4])
local single_flight = ARGV[5] == '1'

local fresh_ms = -1
if value then
  fresh_ms = redis.call('PTTL', KEYS[1]) - stale_ms
  -- XFetch (Vattani et al.): recompute early when now - delta*beta*ln(rand) >= expiry,
  -- i.e. when the freshness left is within delta * factor. Otherwise a plain hit.
  if fresh_ms > delta * factor then
    return {value, fresh_ms, false, 0}
  end
end

-- A miss, a stale entry or an early refresh: someone must compute the value.
local holder = redis.call('GET', KEYS[2])
if holder == ARGV[1] then
  -- This caller's own token: the client resent this call after losing the reply with its
  -- connection. It is the filler, as the first call made it.
  return {value or false, fresh_ms, holder, 0}
end
if holder then
  -- Somebody is already computing it. Callers that have a value serve it; callers that
  -- missed either wait for the filler (single flight) or compute too, sharing its token.
  if value or single_flight then
    return {value or false, fresh_ms, false, 0}
  end
  return {false, fresh_ms, holder, 0}
end
local claimed = redis.pcall('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
if type(claimed) == 'table' and claimed.err then
  -- Redis refuses to store (out of memory): nobody can fill now. A caller holding a value,
  -- stale or due for an early refresh, serves it; one that missed gets the error, and serves
  -- from the source.
  if value then
    return {value, fresh_ms, false, 0}
  end
  return redis.error_reply(claimed.err)
end
return {value or false, fresh_ms, ARGV[1], 1}
