-- session_index.lua: maintain a user's index of sessions (for "log out everywhere").
--
-- The index is a sorted set of session ids scored by their absolute deadline (ms). Every call
-- first drops ids past their deadline, so the index stays clean as sessions expire.
--
-- KEYS[1]  the user's index
-- ARGV[1]  now in ms, or -1 for the server's clock (TIME)
-- ARGV[2]  session id to add ('' for none)   ARGV[3]  its absolute deadline in ms
-- ARGV[4]  session id to remove ('' for none)
-- ARGV[5]  most sessions the user may keep (0: no cap); the oldest beyond it are evicted
--
-- Returns the ids evicted by the cap (their sessions must be deleted by the caller).
local now = tonumber(ARGV[1])
if now < 0 then
  local t = redis.call('TIME')
  now = t[1] * 1000 + t[2] / 1000
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if ARGV[4] ~= '' then
  redis.call('ZREM', KEYS[1], ARGV[4])
end
local evicted = {}
if ARGV[2] ~= '' then
  local cap = tonumber(ARGV[5])
  if cap > 0 then
    local excess = redis.call('ZCARD', KEYS[1]) + 1 - cap
    if excess > 0 then
      -- the sessions that end soonest are the oldest ones; ZPOPMIN answers id, score, id, ...
      local popped = redis.call('ZPOPMIN', KEYS[1], excess)
      for i = 1, #popped, 2 do
        evicted[#evicted + 1] = popped[i]
      end
    end
  end
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2])
end
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if #last == 0 then
  redis.call('DEL', KEYS[1])
else
  redis.call('PEXPIRE', KEYS[1], math.max(1, math.ceil(tonumber(last[2]) - now)))
end
return evicted
