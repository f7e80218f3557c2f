-- lock_acquire.lua: take a lock if it is free, and hand out a fencing token, in one step.
--
-- The lock is SET NX PX: it exists only with its expiry, so a crashed holder cannot block
-- everyone forever (the seed's SETNX-then-EXPIRE can). The fencing token is a number that
-- grows with every acquisition of this lock; the protected resource remembers the highest
-- token it has seen and refuses writes carrying a lower one, so a holder whose lease ran
-- out (a long GC pause) cannot overwrite the work of the next holder.
--
-- KEYS[1]  the lock (holds the owner's random token)   KEYS[2]  the fencing counter
-- ARGV[1]  the owner's token   ARGV[2]  lease in ms   ARGV[3]  how long the counter lives, ms
--
-- Returns the fencing token, or nil when the lock is held by someone else.
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  -- Held. By this very caller when a client resent the call after losing the reply with its
  -- connection (the first one ran): then it is granted, with the token it was given then.
  if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('GET', KEYS[2])
  end
  return false
end
-- max(previous + 1, server time in microseconds): strictly increasing while the counter lives,
-- and still larger than every earlier token if the counter is ever lost (it expired, or a restart
-- without persistence), because a token runs ahead of the clock only while this one lock is
-- taken more than once per microsecond, which its own round trips never allow. (Per millisecond
-- that did happen: a lock taken thousands of times a second ran ahead of the clock.)
local t = redis.call('TIME')
local now_us = t[1] * 1000000 + t[2]
local fence = math.max((tonumber(redis.call('GET', KEYS[2])) or 0) + 1, now_us)
redis.call('SET', KEYS[2], string.format('%d', fence), 'PX', ARGV[3])
return string.format('%d', fence)
