-- session_info.lua: whose session it is and how long it has left, without sliding it.
--
-- The time left before the absolute deadline is measured on the server's clock, the clock the
-- deadline was set by (session_write.lua).
--
-- KEYS[1]  the session
-- ARGV[1]  now in ms, or -1 for the server's clock (TIME)
--
-- Returns {ms until it ends if idle, owner, ms until its absolute deadline}, or nil when there is
-- no such store session.
local ttl = redis.call('PTTL', KEYS[1])
local stored = redis.call('HMGET', KEYS[1], '__user__', '__absolute__')
if ttl < 0 or not stored[1] then
  return false
end
local now = tonumber(ARGV[1])
if now < 0 then
  local t = redis.call('TIME')
  now = t[1] * 1000 + t[2] / 1000
end
return {ttl, stored[1], tostring(math.max(0, tonumber(stored[2]) - now))}
