-- sliding_log.lua: admit a request if fewer than LIMIT were admitted in the last WINDOW ms.
--
-- The seed's checkRateLimit, made exact: one atomic step (no request can slip in between the
-- count and the add), the server's clock, a unique member per request (two requests in the
-- same millisecond are two entries, not one), and denied requests are NOT recorded, so a
-- client that keeps retrying is not locked out forever.
--
-- KEYS[1]  the caller's log: a sorted set, member = unique request id, score = time in ms
-- ARGV[1]  now in ms, or -1 to read the server's clock (TIME)
-- ARGV[2]  limit   ARGV[3]  window in ms   ARGV[4]  cost (entries this request takes)
-- ARGV[5]  a random id for this call; members are <id>:1 .. <id>:<cost>
--
-- Returns {allowed (0/1), remaining, retry_after_ms, reset_after_ms}
local now = tonumber(ARGV[1])
if now < 0 then
  local t = redis.call('TIME')   -- the server's clock, shared by every client
  now = t[1] * 1000 + t[2] / 1000
end
local limit, window, cost = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])

-- Forget entries that have left the window (an entry exactly WINDOW old has left it).
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])

if count + cost <= limit then
  for i = 1, cost do
    redis.call('ZADD', KEYS[1], now, ARGV[5] .. ':' .. i)
  end
  redis.call('PEXPIRE', KEYS[1], math.ceil(window))   -- the log disappears once all of it is stale
  return {1, limit - count - cost, 0, math.ceil(window)}
end

-- Denied: enough of the oldest entries must leave the window for COST more to fit.
local must_leave = count + cost - limit
local entry = redis.call('ZRANGE', KEYS[1], must_leave - 1, must_leave - 1, 'WITHSCORES')
local newest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
return {0, limit - count, math.ceil(tonumber(entry[2]) + window - now), math.ceil(tonumber(newest[2]) + window - now)}
