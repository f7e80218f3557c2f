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
-- running total makes every member unique without a random id.
--
-- KEYS[1]  the caller's log: a sorted set, member = "<running total>:<cost>", score = time in ms
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

local function parse(member)     -- "<running total>:<cost>" -> total, cost
  local total, weight = string.match(member, '^(%d+):(%d+)$')
  return tonumber(total), tonumber(weight)
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

if used + cost <= limit then
  redis.call('ZADD', KEYS[1], now, string.format('%016d:%d', top + cost, cost))
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
local newest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
return {0, limit - used, math.ceil(tonumber(leaving[2]) + window - now), math.ceil(tonumber(newest[2]) + window - now)}
