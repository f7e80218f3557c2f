-- sliding_window_counter.lua: the previous and current fixed windows, weighted (Cloudflare's method).
--
-- estimate = previous_count * (time left of a window that started WINDOW ago) / WINDOW + current_count
-- Two numbers per caller instead of one entry per request, and no boundary burst: the previous
-- window's requests fade out linearly instead of vanishing at the boundary.
--
-- KEYS[1]  the caller's counters: a hash {w = current window number, curr, prev}
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
local stored = redis.call('HMGET', KEYS[1], 'w', 'curr', 'prev')
local stored_w, curr, prev = tonumber(stored[1]), tonumber(stored[2]) or 0, tonumber(stored[3]) or 0
local same_window = stored_w == w
if stored_w == w - 1 then
  prev, curr = curr, 0           -- a new window: the current one becomes the previous one
elseif not same_window then
  prev, curr = 0, 0              -- nothing recent
end

local elapsed = now - w * window
local estimate = prev * (window - elapsed) / window + curr
-- reset_after: when the estimate reaches 0 (the current window's requests fade by the end of the next).
local reset_after = 0
if curr > 0 then
  reset_after = math.ceil((w + 2) * window - now)
elseif prev > 0 then
  reset_after = math.ceil((w + 1) * window - now)
end

if estimate + cost > limit then
  -- When will COST more fit? Within this window only the previous count fades; if the current
  -- count alone is too high, wait for the next window, where it fades in turn.
  local retry
  if curr + cost <= limit then
    retry = window * (1 - (limit - curr - cost) / prev) - elapsed
  else
    retry = (window - elapsed) + window * (1 - (limit - cost) / curr)
  end
  return string.format('0 %d %d %d', math.max(0, math.floor(limit - estimate)), math.ceil(retry), reset_after)
end

local expire_after = math.ceil((w + 2) * window - now)   -- the counts matter until the next window ends
if same_window then
  redis.call('HSET', KEYS[1], 'curr', curr + cost)
else
  redis.call('HSET', KEYS[1], 'w', w, 'curr', curr + cost, 'prev', prev)
end
-- Every key is made by a window's first request, which sets that TTL; on the server's clock the
-- later requests of the window would only set it again to the same instant, so they skip it. An
-- injected clock need not run with the server's: set it each time.
if not same_window or not servers_clock then
  redis.call('PEXPIRE', KEYS[1], expire_after)
end
return string.format('1 %d 0 %d', math.floor(limit - estimate - cost), expire_after)
