-- cache_peek.lua: the hit path. Return the entry's value when it is a plain hit, nothing otherwise.
--
-- Most reads are hits, and a hit needs no fill token: it writes nothing, so it cannot undo an
-- invalidation, and nobody has to be told who computes. So a hit sends only the entry and the
-- XFetch factor, and gets one value back. Anything else (a miss, a stale entry, an early
-- refresh) answers nil, and the client then calls cache_read.lua, which decides atomically who
-- fills, with a fresh token. Nothing written here, so nothing between the two calls can be
-- lost: the second call sees the entry as it is then.
--
-- KEYS[1]  the entry: a hash {value = JSON text, delta = ms the last computation took}
-- ARGV[1]  optional: the early-refresh factor drawn by the client, beta * -ln(rand()), in
--          millionths (a whole number: cheaper to send than a float's text); absent = 0
-- ARGV[2]  optional: stale grace, ms (the last part of the entry's TTL); absent = 0
--
-- Returns the value (JSON text) on a plain hit, else nil. The rule is cache_read.lua's, exactly.
local factor = (tonumber(ARGV[1]) or 0) / 1000000
local value, delta
if factor > 0 then
  local entry = redis.call('HMGET', KEYS[1], 'value', 'delta')
  value, delta = entry[1], tonumber(entry[2]) or 0
else
  value, delta = redis.call('HGET', KEYS[1], 'value'), 0  -- no XFetch: the delta is not needed
end
if not value then
  return false
end
-- XFetch (Vattani et al.): a plain hit while the freshness left exceeds delta * factor. An entry
-- without a TTL (PTTL -1: never written by the patterns) is not a hit either: it gets refilled.
local stale_ms = tonumber(ARGV[2]) or 0
if redis.call('PTTL', KEYS[1]) - stale_ms > delta * factor then
  return value
end
return false
