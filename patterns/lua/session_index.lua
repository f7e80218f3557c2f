-- session_index.lua: keep a user's index of sessions, for "log out everywhere" and the per-user cap.
--
-- The index is a sorted set: session id -> when its line of sessions began (a login), in ms by
-- this node's clock. A rotation hands the new id the old one's time. Every time in this script
-- is this node's: on a cluster the index and the sessions live on different nodes, whose clocks
-- may disagree, so only durations cross between them, never instants.
--
-- KEYS[1]  the user's index   KEYS[2]  the user's "logged out everywhere at" time (ms, a string)
-- ARGV[1]  now in ms, or -1 for this node's clock (TIME)
-- ARGV[2]  what to do:
--          add      index ARGV[3] as a new login; end the oldest beyond the cap ARGV[6]
--          rotate   hand ARGV[4]'s place to ARGV[3] (same user), if ARGV[4] may still rotate
--          release  drop ARGV[4] from this (old owner's) index, if it may still rotate
--          remove   drop the ids ARGV[7..] (a logout, or the ones destroy_all has ended)
--          revoke   log out everywhere: mark the time, and return every id indexed now
--          list     return every id indexed now, oldest first
-- ARGV[3]  the id to add   ARGV[4]  the id rotated away
-- ARGV[5]  the absolute lifetime in ms (entries older than that, plus a margin, are pruned)
-- ARGV[6]  most sessions the user may keep (0: no cap)
-- ARGV[7..] ids (remove)
--
-- "May still rotate": a session whose id is in the index and that began before no "log out
-- everywhere". A rotation racing with destroy_all() therefore either lands before its mark (and
-- its new id is ended by it) or is refused: no session escapes by rotating in the meantime.
--
-- Returns {1 (done) or 0 (refused), ids...}: evicted ids for add, the ids for revoke and list.
local now = tonumber(ARGV[1])
if now < 0 then
  local t = redis.call('TIME')
  now = t[1] * 1000 + t[2] / 1000
end
local op, lifetime, cap = ARGV[2], tonumber(ARGV[5]), tonumber(ARGV[6])
local MARGIN = 300000   -- ms kept past a line's lifetime: room for clocks that disagree by minutes
local keep_for = lifetime + MARGIN

redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - keep_for)

local function may_rotate(id)
  local began = tonumber(redis.call('ZSCORE', KEYS[1], id))
  if not began then
    return nil   -- not indexed: ended, logged out everywhere, or past its lifetime
  end
  local revoked = tonumber(redis.call('GET', KEYS[2]))
  if revoked and began <= revoked then
    return nil
  end
  return began
end

local function tidy()
  local newest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
  if #newest == 0 then
    redis.call('DEL', KEYS[1])
  else
    redis.call('PEXPIRE', KEYS[1], math.max(1, math.ceil(tonumber(newest[2]) + keep_for - now)))
  end
end

local out = {1}
if op == 'add' then
  if cap > 0 then
    local excess = redis.call('ZCARD', KEYS[1]) + 1 - cap
    if excess > 0 then
      -- the oldest logins end first; ZPOPMIN answers id, score, id, ...
      local popped = redis.call('ZPOPMIN', KEYS[1], excess)
      for i = 1, #popped, 2 do
        out[#out + 1] = popped[i]
      end
    end
  end
  redis.call('ZADD', KEYS[1], now, ARGV[3])
elseif op == 'rotate' or op == 'release' then
  local began = may_rotate(ARGV[4])
  if not began then
    return {0}
  end
  redis.call('ZREM', KEYS[1], ARGV[4])
  if op == 'rotate' then
    redis.call('ZADD', KEYS[1], began, ARGV[3])
  end
elseif op == 'remove' then
  for first = 7, #ARGV, 1000 do
    redis.call('ZREM', KEYS[1], unpack(ARGV, first, math.min(first + 999, #ARGV)))
  end
elseif op == 'revoke' then
  redis.call('SET', KEYS[2], string.format('%.3f', now), 'PX', math.ceil(keep_for))
  for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
    out[#out + 1] = id
  end
elseif op == 'list' then
  for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
    out[#out + 1] = id
  end
end
tidy()
return out
