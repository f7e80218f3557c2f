-- fixed_window.lua: admit a request if fewer than LIMIT were admitted in this clock-aligned window.
--
-- The cheapest limiter: one small hash per caller. Its known flaw, shown in notebook 02: up to
-- twice LIMIT can pass in a short span across a window boundary.
--
-- KEYS[1]  the caller's counter: a hash {w = window number, n = requests admitted in it}
-- ARGV[1]  now in ms, or -1 to read the server's clock (TIME)
-- ARGV[2]  limit   ARGV[3]  window in ms   ARGV[4]  cost
--
-- Returns '<allowed 0/1> <remaining> <retry_after_ms> <reset_after_ms>': one text the client splits
local now = tonumber(ARGV[1])
local servers_clock = now < 0
if servers_clock then
  local t = redis.call('TIME')
  now = t[1] * 1000 + t[2] / 1000
end
local limit, window, cost = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])

local w = math.floor(now / window)
local stored = redis.call('HMGET', KEYS[1], 'w', 'n')
local same_window = tonumber(stored[1]) == w
local count = 0
if same_window then
  count = tonumber(stored[2])   -- a count from an earlier window no longer applies
end
local reset_after = math.ceil((w + 1) * window - now)

if count + cost > limit then
  return string.format('0 %d %d %d', limit - count, reset_after, reset_after)   -- denied requests are not counted
end
if same_window then
  redis.call('HSET', KEYS[1], 'n', count + cost)
else
  redis.call('HSET', KEYS[1], 'w', w, 'n', count + cost)
end
-- The key lives until its window ends. Every key is made by a window's first request, which sets
-- that TTL; on the server's clock the later requests of the window would only set it again to the
-- same instant, so they skip it. An injected clock need not run with the server's: set it each time.
if not same_window or not servers_clock then
  redis.call('PEXPIRE', KEYS[1], reset_after)
end
return string.format('1 %d 0 %d', limit - count - cost, reset_after)
