-- fixed_window.lua: admit a request if fewer than LIMIT were admitted in this clock-aligned window.
--
-- The cheapest limiter: one small hash per caller. Its known flaw, shown in notebook 02: up to
-- twice LIMIT can pass in a short span across a window boundary.
--
-- KEYS[1]  the caller's counter: a hash {w = window number, n = requests admitted in it}
-- ARGV[1]  now in ms, or -1 to read the server's clock (TIME)
-- ARGV[2]  limit   ARGV[3]  window in ms   ARGV[4]  cost
--
-- Returns {allowed (0/1), remaining, retry_after_ms, reset_after_ms}
local now = tonumber(ARGV[1])
if now < 0 then
  local t = redis.call('TIME')
  now = t[1] * 1000 + t[2] / 1000
end
local limit, window, cost = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])

local w = math.floor(now / window)
local stored = redis.call('HMGET', KEYS[1], 'w', 'n')
local count = 0
if tonumber(stored[1]) == w then
  count = tonumber(stored[2])   -- a count from an earlier window no longer applies
end
local reset_after = math.ceil((w + 1) * window - now)

if count + cost > limit then
  return {0, limit - count, reset_after, reset_after}   -- denied requests are not counted
end
redis.call('HSET', KEYS[1], 'w', w, 'n', count + cost)
redis.call('PEXPIRE', KEYS[1], reset_after)
return {1, limit - count - cost, 0, reset_after}
