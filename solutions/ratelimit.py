"""# Chapter 02, rate limiting: solutions

A limiter is right when the check and the count are one step nothing can come
between, when it decides by the time it is given, and when only admitted
requests are counted. Two rules in one decision need all three at once: a
request one rule would deny must not be counted by the other. The stretch asks
for the sliding window counter, written as a script of your own.
"""
from __future__ import annotations

import uuid

CHAPTER = "02_rate_limiting"

# Two rules, one sorted set per user: member = a unique id per admitted request, score = its time in ms.
TWO_RULES = """
-- KEYS[1]  the user's log of admitted requests (a sorted set, score = time in ms)
-- ARGV[1]  now in ms   ARGV[2]  a unique id for this request
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 3600000)          -- older than an hour: gone
local in_the_hour = redis.call('ZCARD', KEYS[1])
local in_10_seconds = redis.call('ZCOUNT', KEYS[1], '(' .. (now - 10000), '+inf')
if in_the_hour >= 20 or in_10_seconds >= 5 then
  return 0                                                               -- denied: counted by neither rule
end
redis.call('ZADD', KEYS[1], now, ARGV[2])
redis.call('PEXPIRE', KEYS[1], 3600000)                                  -- nothing older than an hour matters
return 1
"""


def allow(r, user_id, now):
    """At most 5 in any 10 s and 20 in any hour: both counts and the add in one script.

    One sorted set holds the user's admitted requests of the last hour; both
    rules count it, so one decision reads both before writing anything, and a
    request denied by either rule is written nowhere. The script runs as one
    step, so no other request can come between the counts and the add, and the
    key expires an hour after the last admitted request.
    """
    script = r.register_script(TWO_RULES)
    return script(keys=[f"limit:{user_id}"], args=[int(now * 1000), uuid.uuid4().hex]) == 1


# The stretch: the sliding window counter, 10 per 60 s, as a script of one's own.
SLIDING_WINDOW_COUNTER = """
-- KEYS[1]  the user's counters: a hash {w = window number, curr, prev}
-- ARGV[1]  now in ms   ARGV[2]  limit   ARGV[3]  window in ms
local now, limit, window = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local w = math.floor(now / window)
local state = redis.call('HMGET', KEYS[1], 'w', 'curr', 'prev')
local stored, curr, prev = tonumber(state[1]), tonumber(state[2]) or 0, tonumber(state[3]) or 0
if stored == w - 1 then
  prev, curr = curr, 0        -- the window turned: this one's count becomes the previous one
elseif stored ~= w then
  prev, curr = 0, 0           -- nothing in the last two windows
end
local estimate = prev * (window - (now - w * window)) / window + curr
if estimate + 1 > limit then
  return 0
end
redis.call('HSET', KEYS[1], 'w', w, 'curr', curr + 1, 'prev', prev)
redis.call('PEXPIRE', KEYS[1], 2 * window)   -- a window's count matters until the next one ends
return 1
"""


def allow_by_estimate(r, user_id, now):
    """The previous window's count, weighted by how much of it is still inside the last 60 s, plus this one's.

    Two numbers per user instead of one entry per request. The script reads the
    counters, turns the window if it has changed, decides and writes in one step
    and one round trip; a denied request changes nothing.
    """
    script = r.register_script(SLIDING_WINDOW_COUNTER)
    return script(keys=[f"estimate:{user_id}"], args=[now * 1000, 10, 60_000]) == 1


CHECKS = [
    ("allow", "patterns.exercises.ratelimit", "check"),
    ("allow_by_estimate", "patterns.exercises.ratelimit", "check_stretch"),
]
