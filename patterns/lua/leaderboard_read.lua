-- leaderboard_read.lua: a slice of a board with competition ranks and details, in one step.
--
-- Competition ranking ("1224"): equal scores share a rank, and the next rank skips. The rank of
-- an entry is 1 + the number of members with a strictly higher score. Only the first entry of
-- the slice needs a count (ZCOUNT); the others follow from their neighbours.
--
-- KEYS[1]  the board (sorted set)   KEYS[2]  member details (hash)
-- ARGV[1]  what to read: 'page' (ARGV[2] start, ARGV[3] stop: 0-based positions, highest first)
--          or 'around' (ARGV[2] member, ARGV[3] radius; radius 0 reads just that member)
--
-- Returns {rank, member, score, details or false, ...}, or {} for an unknown member.
local start, stop
if ARGV[1] == 'page' then
  start, stop = tonumber(ARGV[2]), tonumber(ARGV[3])
else
  local position = redis.call('ZREVRANK', KEYS[1], ARGV[2])
  if not position then
    return {}
  end
  local radius = tonumber(ARGV[3])
  start, stop = math.max(0, position - radius), position + radius
end

local slice = redis.call('ZRANGE', KEYS[1], start, stop, 'REV', 'WITHSCORES')
if #slice == 0 then
  return {}
end
local members = {}
for i = 1, #slice, 2 do
  members[#members + 1] = slice[i]
end
-- HMGET in slices: unpack() of more than a few thousand members overflows Lua's C stack.
local details = {}
for first = 1, #members, 1000 do
  local slice = redis.call('HMGET', KEYS[2], unpack(members, first, math.min(first + 999, #members)))
  for i = 1, #slice do
    details[first + i - 1] = slice[i]
  end
end

local out = {}
local rank = redis.call('ZCOUNT', KEYS[1], '(' .. slice[2], '+inf') + 1
for i = 1, #members do
  local score = slice[2 * i]
  if i > 1 and score ~= slice[2 * i - 2] then
    rank = start + i   -- a lower score: everyone above it has a strictly higher one
  end
  out[#out + 1] = rank
  out[#out + 1] = members[i]
  out[#out + 1] = score
  out[#out + 1] = details[i]
end
return out
