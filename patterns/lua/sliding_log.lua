-- sliding_log.lua: admit a request if the requests admitted in the last WINDOW ms weigh less than LIMIT.
--
-- The seed's checkRateLimit, made exact: one atomic step (no request can slip in between the
-- count and the add), the server's clock, a unique member per request (two requests in the
-- same millisecond are two entries, not one), and denied requests are NOT recorded, so a
-- client that keeps retrying is not locked out forever.
--
-- One entry per admitted request, whatever its cost: a request of cost 999,999 is one ZADD,
-- not 999,999 (which would block the server for seconds). Each member carries the running
-- total of units admitted up to and including it, zero-padded so members of one millisecond
-- sort as they were added, and its own cost:  "<running total>:<cost>". The units inside the
-- window are then newest.total - oldest.total + oldest.cost, from two lookups, and the
-- running total makes every member unique without a random id. The total has 17 digits, so a
-- member of the older format ("<16 hex digits>:<i>", one per unit) never reads as one of these.
--
-- KEYS[1]  the caller's log: a sorted set, member = "<running total, 17 digits>:<cost>", score = time in ms
-- ARGV[1]  now in ms, or -1 to read the server's clock (TIME)
-- ARGV[2]  limit   ARGV[3]  window in ms   ARGV[4]  cost (units this request takes)
--
-- Returns {allowed (0/1), remaining, retry_after_ms, reset_after_ms}
local now = tonumber(ARGV[1])
if now < 0 then
  local t = redis.call('TIME')   -- the server's clock, shared by every client
  now = t[1] * 1000 + t[2] / 1000
end
local limit, window, cost = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])

local RENUMBER_AT = 2^52   -- running totals stay exact integers in a Lua double below 2^53

local function parse(member)     -- "<running total>:<cost>" -> total, cost (nil for another format)
  local total, weight = string.match(member, '^(%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d):(%d+)$')
  return tonumber(total), tonumber(weight)
end

-- A log written before entries carried their cost (one member per unit, "<hex>:<i>"): fold it
-- into one entry of the same weight at its newest time. The units then leave the window later
-- than they would have: stricter, never looser, and only once per caller.
local newest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if newest[1] and not parse(newest[1]) then
  local units = redis.call('ZCARD', KEYS[1])
  redis.call('DEL', KEYS[1])
  redis.call('ZADD', KEYS[1], newest[2], string.format('%017d:%d', units, units))
end

-- The clock may step back (NTP, a failover to a server whose clock is behind): never record a
-- request earlier than the newest one, or the running totals would no longer follow time order.
if newest[2] then
  now = math.max(now, tonumber(newest[2]))
end

-- Forget entries that have left the window (an entry exactly WINDOW old has left it).
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0)[1]
local used, top, before = 0, 0, 0
if oldest then
  local oldest_total, oldest_cost = parse(oldest)
  top = parse(redis.call('ZRANGE', KEYS[1], -1, -1)[1])
  before = oldest_total - oldest_cost   -- units admitted before the window's first entry
  used = top - before
end

if top + cost >= RENUMBER_AT then
  -- After 2^52 units without the log ever emptying: count again from the window's first entry.
  local entries = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
  redis.call('DEL', KEYS[1])
  for i = 1, #entries, 2 do
    local total, weight = parse(entries[i])
    redis.call('ZADD', KEYS[1], entries[i + 1], string.format('%017d:%d', total - before, weight))
  end
  top, before = top - before, 0
end

if used + cost <= limit then
  redis.call('ZADD', KEYS[1], now, string.format('%017d:%d', top + cost, cost))
  redis.call('PEXPIRE', KEYS[1], math.ceil(window))   -- the log disappears once all of it is stale
  return {1, limit - used - cost, 0, math.ceil(window)}
end

-- Denied: the oldest entries that must leave the window for COST more to fit weigh at least
-- MUST_LEAVE units; find the first entry whose running total reaches it (a binary search by
-- rank, O(log^2 n)). It leaves the window at its time + WINDOW.
local must_leave = used + cost - limit
local low, high = 0, redis.call('ZCARD', KEYS[1]) - 1
while low < high do
  local middle = math.floor((low + high) / 2)
  if parse(redis.call('ZRANGE', KEYS[1], middle, middle)[1]) - before >= must_leave then
    high = middle
  else
    low = middle + 1
  end
end
local leaving = redis.call('ZRANGE', KEYS[1], low, low, 'WITHSCORES')
newest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
return {0, limit - used, math.ceil(tonumber(leaving[2]) + window - now), math.ceil(tonumber(newest[2]) + window - now)}
