-- lock_extend.lua: renew a lock's lease, only while the caller still holds it.
--
-- KEYS[1]  the lock   ARGV[1]  the caller's token   ARGV[2]  the new lease in ms
-- Returns 1 when renewed, 0 when the lock is gone or held by someone else.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
