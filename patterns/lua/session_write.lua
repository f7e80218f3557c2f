-- session_write.lua: write a whole session and its TTL in one step, its deadline on the server's clock.
--
-- The seed's setSession sends HSET, then EXPIRE: a crash (or a lost connection) between the two
-- leaves a session that never expires. Here both happen together, or neither does.
--
-- A store session also carries its owner (__user__) and its absolute deadline (__absolute__, ms).
-- The deadline is computed here, from the server's clock, not by the app server that asked: an
-- app server whose clock runs 10 s fast would otherwise give a 2 s session a 12 s life, and one
-- that runs slow would create sessions that are already dead. Every other script that reads the
-- deadline (session_touch.lua, session_info.lua) compares it with the same clock.
--
-- KEYS[1]  the session (a hash: field -> JSON value, plus __user__ and __absolute__ for a store)
-- ARGV[1]  now in ms, or -1 for the server's clock (TIME)
-- ARGV[2]  TTL in ms: the plain session's TTL, or a store session's idle timeout
-- ARGV[3]  lifetime in ms: 0 for a plain session (no owner, no deadline); a store session ends
--          at now + lifetime (a new one gets the whole absolute lifetime, a rotated one what
--          its predecessor had left: rotation never extends a session)
-- ARGV[4]  the epoch the session is made in (its user's log-outs-everywhere count; '' for none)
-- ARGV[5]  the owner ('' for a plain session)
-- ARGV[6]  for a rotation, the predecessor's deadline in ms ('' for none): never end later. The
--          lifetime left is measured by the app server, which cannot see how long the write then
--          waits on its way here; on one server (or nodes whose clocks agree) the cap makes
--          "rotation never extends a session" exact. On a cluster the predecessor may have lived
--          on a node whose clock differs: a rotation onto a node whose clock runs ahead ends the
--          session that much sooner (and the loss adds up over such hops); never later
-- ARGV[7..] field, value, field, value, ...
--
-- Returns the deadline in ms as text ('0' for a plain session), or nil when the lifetime left is
-- none (nothing is written: the session is over).
local ttl, lifetime = tonumber(ARGV[2]), tonumber(ARGV[3])
local deadline = 0
if lifetime < 0 then
  return false   -- a rotation of a session with no time left
end
if lifetime > 0 then
  local now = tonumber(ARGV[1])
  if now < 0 then
    local t = redis.call('TIME')
    now = t[1] * 1000 + t[2] / 1000
  end
  deadline = math.floor(now + lifetime)
  if ARGV[6] ~= '' then
    deadline = math.min(deadline, tonumber(ARGV[6]))
  end
  if deadline <= now then
    return false
  end
  ttl = math.min(ttl, deadline - now)      -- the idle timeout never outlives the deadline
end

redis.call('DEL', KEYS[1])   -- a write replaces the session: no stale fields survive
if lifetime > 0 then
  redis.call('HSET', KEYS[1], '__user__', ARGV[5], '__absolute__', string.format('%d', deadline),
             '__epoch__', ARGV[4])
end
-- HSET in slices: unpack() of more than a few thousand arguments overflows Lua's C stack.
for first = 7, #ARGV, 1000 do
  redis.call('HSET', KEYS[1], unpack(ARGV, first, math.min(first + 999, #ARGV)))
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('PEXPIRE', KEYS[1], math.max(1, math.ceil(ttl)))
end
return string.format('%d', deadline)
