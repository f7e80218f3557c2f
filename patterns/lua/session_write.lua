-- session_write.lua: write a whole session and its TTL in one step.
--
-- The seed's setSession sends HSET, then EXPIRE: a crash (or a lost connection) between the two
-- leaves a session that never expires. Here both happen together, or neither does.
--
-- KEYS[1]  the session (a hash: field -> JSON value, plus __user__ and __absolute__ for a store)
-- ARGV[1]  TTL in ms   ARGV[2..]  field, value, field, value, ...
--
-- Returns 1.
redis.call('DEL', KEYS[1])   -- a write replaces the session: no stale fields survive
if #ARGV > 1 then
  redis.call('HSET', KEYS[1], unpack(ARGV, 2))
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
