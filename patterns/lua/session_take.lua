-- session_take.lua: read a session and delete it, in one step (rotation and destruction).
--
-- Taking the old session before writing the new one makes rotation fail safe: a crash in
-- between logs the user out; it never leaves both the old and the new id valid.
--
-- KEYS[1]  the session
-- ARGV[1]  1 = refuse (and keep) a session that has no owner: one written by set_session(),
--          which a rotation could not index without being told whose it is; 0 = take any
--
-- Returns the session as a flat field/value list, nil when it does not exist, or -1 when it
-- was refused (it is left exactly as it was).
local fields = redis.call('HGETALL', KEYS[1])
if #fields == 0 then
  return false
end
if ARGV[1] == '1' and redis.call('HEXISTS', KEYS[1], '__user__') == 0 then
  return -1
end
redis.call('DEL', KEYS[1])
return fields
