-- session_take.lua: read a session and delete it, in one step (rotation and destruction).
--
-- Taking the old session before writing the new one makes rotation fail safe: a crash in
-- between logs the user out; it never leaves both the old and the new id valid.
--
-- KEYS[1]  the session
-- Returns the session as a flat field/value list, or nil when it does not exist.
local fields = redis.call('HGETALL', KEYS[1])
if #fields == 0 then
  return false
end
redis.call('DEL', KEYS[1])
return fields
