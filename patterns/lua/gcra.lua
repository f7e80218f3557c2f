-- gcra.lua: the generic cell rate algorithm: one timestamp per caller, no counters.
--
-- Each request pushes the caller's "theoretical arrival time" (TAT) forward by one emission
-- interval T = WINDOW / LIMIT. A request is allowed unless the TAT would run more than
-- BURST intervals ahead of now. It behaves like a token bucket but stores a single number.
--
-- KEYS[1]  the caller's TAT in ms (a string)
-- ARGV[1]  now in ms, or -1 to read the server's clock (TIME)
-- ARGV[2]  emission interval T in ms   ARGV[3]  burst (requests allowed at once)   ARGV[4]  cost
--
-- Returns '<allowed 0/1> <remaining> <retry_after_ms> <reset_after_ms>': one text the client splits
local now = tonumber(ARGV[1])
if now < 0 then
  local t = redis.call('TIME')
  now = t[1] * 1000 + t[2] / 1000
end
local interval, burst, cost = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])

local tat = math.max(tonumber(redis.call('GET', KEYS[1])) or now, now)
local new_tat = tat + interval * cost
local allow_at = new_tat - burst * interval

if now < allow_at then
  local remaining = math.floor((now - (tat - burst * interval)) / interval)
  return string.format('0 %d %d %d', remaining, math.ceil(allow_at - now), math.ceil(tat - now))
end
redis.call('SET', KEYS[1], new_tat, 'PX', math.max(1, math.ceil(new_tat - now)))
local remaining = math.floor((now - (new_tat - burst * interval)) / interval)
return string.format('1 %d 0 %d', remaining, math.ceil(new_tat - now))
