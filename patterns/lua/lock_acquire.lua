-- lock_acquire.lua: take a lock if it is free, and hand out a fencing token, in one step.
--
-- The lock is SET NX PX: it exists only with its expiry, so a crashed holder cannot block
-- everyone forever (the seed's SETNX-then-EXPIRE can). The fencing token is a number that
-- grows with every acquisition of this lock; the protected resource remembers the highest
-- token it has seen and refuses writes carrying a lower one, so a holder whose lease ran
-- out (a long GC pause) cannot overwrite the work of the next holder.
--
-- KEYS[1]  the lock (holds the owner's random token)   KEYS[2]  the fencing counter
-- ARGV[1]  the owner's token   ARGV[2]  lease in ms
--
-- Returns the fencing token as an integer, or nil when the lock is held by someone else.
-- (An integer reply, not a string: the client reads one line instead of a length and a body.
-- A Lua number is a double, exact up to 2^53; a microsecond timestamp reaches that in 2255.)

-- How long the counter lives, ms: 30 days, far beyond any lease (patterns.lock.FENCE_TTL_MS says the
-- same, and a test checks the counter's TTL against it). A constant here rather than an argument: it
-- never varies, and every argument costs the client time to encode on every acquisition.
local FENCE_TTL_MS = 2592000000

if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  -- Held. By this very caller when a client resent the call after losing the reply with its
  -- connection (the first one ran): then it is granted, with the token it was given then.
  if redis.call('GET', KEYS[1]) == ARGV[1] then
    return tonumber(redis.call('GET', KEYS[2]))
  end
  return false
end
-- max(previous + 1, server time in microseconds): strictly increasing while the counter lives,
-- and still larger than every earlier token if the counter is ever lost (it expired, or a restart
-- without persistence) or rolled back (a restore from an older snapshot, a failover to a replica
-- that lagged), because a token runs ahead of the clock only while this one lock is taken more
-- than once per microsecond, which its own round trips never allow. (Per millisecond that did
-- happen: a lock taken thousands of times a second ran ahead of the clock.) That is why the clock
-- is read on every acquisition: a plain INCR would be cheaper, but after a rollback it hands out
-- again tokens that were already given (a test shows it).
--
-- Three calls, not four: SET ... GET writes the clock's value and answers the previous one in one
-- call. Almost always the clock is ahead of the counter and that write is the answer. Only when the
-- counter is not behind the clock (the same microsecond, or a clock stepped back) is it written a
-- second time, with previous + 1; nothing runs between the two writes, so nobody sees the first.
-- Every write sets the TTL again, so a counter in use never expires.
local t = redis.call('TIME')
local now_us = t[1] * 1000000 + t[2]
local previous = tonumber(redis.call('SET', KEYS[2], string.format('%d', now_us), 'PX', FENCE_TTL_MS, 'GET'))
if previous and previous >= now_us then
  local fence = previous + 1
  redis.call('SET', KEYS[2], string.format('%d', fence), 'PX', FENCE_TTL_MS)
  return fence
end
return now_us
