-- session_take.lua: read a session and delete it, in one step (rotation and destruction).
--
-- Taking the old session before writing the new one makes rotation fail safe: a crash in
-- between logs the user out; it never leaves both the old and the new id valid.
--
-- KEYS[1]  the session
-- ARGV[1]  1 = refuse (and keep) a session that has no owner: one written by set_session(),
--          which a rotation could not index without being told whose it is; 0 = take any
-- ARGV[2]  now in ms, or -1 for this node's clock (TIME)
--
-- Returns the session as a flat field/value list, with __left__ (ms until its absolute deadline,
-- by this node's clock: a duration travels between nodes, an instant would carry this node's
-- clock to another), nil when it does not exist, or -1 when it was refused (it is left as it was).
local fields = redis.call('HGETALL', KEYS[1])
if #fields == 0 then
  return false
end
local deadline = tonumber(redis.call('HGET', KEYS[1], '__absolute__'))
if ARGV[1] == '1' and redis.call('HEXISTS', KEYS[1], '__user__') == 0 then
  return -1
end
redis.call('DEL', KEYS[1])
if deadline then
  local now = tonumber(ARGV[2])
  if now < 0 then
    local t = redis.call('TIME')
    now = t[1] * 1000 + t[2] / 1000
  end
  fields[#fields + 1] = '__left__'
  fields[#fields + 1] = tostring(math.floor(deadline - now))
end
return fields
