-- session_touch.lua: read a session and slide its idle timeout, never past its absolute deadline.
--
-- Naive sliding expiry (EXPIRE on every read) keeps an active session alive forever. A store
-- session carries its absolute deadline (__absolute__, ms); past it the session is deleted. A
-- plain session (set_session) is read and updated but never slid.
--
-- KEYS[1]  the session
-- ARGV[1]  now in ms, or -1 for the server's clock (TIME)   ARGV[2]  idle timeout in ms
-- ARGV[3]  1 = also write fields ARGV[4..] (field, value, ...) before reading (an update)
--
-- Returns the session as a flat field/value list, or nil when it does not exist (or just ended).
if redis.call('EXISTS', KEYS[1]) == 0 then
  return false
end
local now = tonumber(ARGV[1])
if now < 0 then
  local t = redis.call('TIME')
  now = t[1] * 1000 + t[2] / 1000
end
local absolute = tonumber(redis.call('HGET', KEYS[1], '__absolute__'))
if absolute and now >= absolute then
  redis.call('DEL', KEYS[1])
  return false
end
if ARGV[3] == '1' then
  -- Only the named fields: other fields are untouched. In slices: unpack() of more than a few
  -- thousand arguments overflows Lua's C stack.
  for first = 4, #ARGV, 1000 do
    redis.call('HSET', KEYS[1], unpack(ARGV, first, math.min(first + 999, #ARGV)))
  end
end
if absolute then
  local ttl = math.min(tonumber(ARGV[2]), absolute - now)
  redis.call('PEXPIRE', KEYS[1], math.max(1, math.ceil(ttl)))
end
-- A session written by set_session() has no absolute deadline and keeps the TTL it was given:
-- sliding it by the store's idle timeout would let it live forever.
return redis.call('HGETALL', KEYS[1])
