-- session_index.lua: keep a user's index of sessions, for "log out everywhere" and the per-user cap.
--
-- KEYS[1]  the index: a sorted set, session id -> when its line of sessions began (this node's
--          clock, ms; only for "oldest first", never compared with another node's time)
-- KEYS[2]  the user's epoch: how many times they logged out everywhere (a counter)
--
-- Every session carries the epoch it was made in (__epoch__). "Log out everywhere" raises the
-- epoch in the same step as it reads the ids, and a rotation is handed over only while its
-- session's epoch is still current. A rotation racing with destroy_all() therefore either is
-- handed over before the epoch moves (its new id is among those read, and ended) or is refused,
-- whatever the clocks of the nodes say: counters, not times, decide.
--
-- Entries leave the index only when their session is known to be gone (ended one by one, by the
-- cap, by destroy_all, or found missing by the caller): never by a guess about time, so no index
-- call can drop a session that is still alive. TTLs are only ever lengthened, so a store with a
-- shorter lifetime never shortens another's.
--
-- ARGV[1]  now in ms, or -1 for this node's clock (TIME)
-- ARGV[2]  what to do:
--          epoch    return the current epoch (a new session is written with it)
--          add      index ARGV[3] as a new login; return how many ids the index holds, then the
--                   ids beyond the cap ARGV[6], oldest first, still indexed (the caller ends
--                   those sessions, then removes them)
--          rotate   hand ARGV[4]'s place to ARGV[3] if ARGV[7] is the current epoch
--          release  drop ARGV[4] (leaving for another owner) if ARGV[7] is the current epoch
--          remove   drop the ids ARGV[8..]
--          revoke   log out everywhere: raise the epoch, and return every id indexed now
--          list     return every id indexed now, oldest first
-- ARGV[3]  the id to add   ARGV[4]  the id rotated away   ARGV[5]  the absolute lifetime in ms
-- ARGV[6]  most sessions the user may keep (0: no cap)   ARGV[7]  the session's epoch
-- ARGV[8..] ids (remove)
--
-- Returns {1 (done) or 0 (refused), ...}: the epoch for epoch; ids for add, revoke and list.
local now = tonumber(ARGV[1])
if now < 0 then
  local t = redis.call('TIME')
  now = t[1] * 1000 + t[2] / 1000
end
local op, lifetime, cap = ARGV[2], tonumber(ARGV[5]), tonumber(ARGV[6])
local MARGIN = 300000   -- ms past a lifetime: room for nodes whose clocks disagree by minutes
local current = tonumber(redis.call('GET', KEYS[2])) or 0

local function lengthen(key)   -- a TTL of at least lifetime + margin, never shorter than it was
  local wanted = math.ceil(lifetime + MARGIN)
  if redis.call('EXISTS', key) == 1 and redis.call('PTTL', key) < wanted then
    redis.call('PEXPIRE', key, wanted)
  end
end

local out = {1}
if op == 'epoch' then
  out[2] = current
elseif op == 'add' then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  out[2] = redis.call('ZCARD', KEYS[1])
  if cap > 0 then
    local excess = redis.call('ZCARD', KEYS[1]) - cap
    if excess > 0 then
      for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, excess - 1)) do
        out[#out + 1] = id
      end
    end
  end
elseif op == 'rotate' or op == 'release' then
  if tonumber(ARGV[7]) ~= current then
    return {0}   -- logged out everywhere since this session was made: no successor
  end
  local began = redis.call('ZSCORE', KEYS[1], ARGV[4]) or now
  redis.call('ZREM', KEYS[1], ARGV[4])
  if op == 'rotate' then
    redis.call('ZADD', KEYS[1], began, ARGV[3])
  end
elseif op == 'remove' then
  for first = 8, #ARGV, 1000 do
    redis.call('ZREM', KEYS[1], unpack(ARGV, first, math.min(first + 999, #ARGV)))
  end
elseif op == 'revoke' then
  redis.call('INCR', KEYS[2])
  for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
    out[#out + 1] = id
  end
elseif op == 'list' then
  for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
    out[#out + 1] = id
  end
end
lengthen(KEYS[1])
lengthen(KEYS[2])
return out
