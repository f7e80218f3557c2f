-- stream_backlog.lua: how far a consumer group is behind, and what maxlen trimmed before it read it.
--
-- waiting: entries in the stream the group has not been given yet, counted from its last
-- delivered id (not from Redis's lag, which after a trim can keep counting entries that are gone);
-- exact up to 10,000, Redis's estimate beyond (a backlog that large is the news, not its digits).
-- trimmed_unread: entries trimmed before the group was given them, as counted at each trim by
-- stream_append.lua.
--
-- KEYS[1]  the stream   KEYS[2]  trimmed-before-read counts (hash: group -> entries)
-- ARGV[1]  the consumer group
--
-- Returns {waiting, trimmed_unread}, or nil when the stream exists without this group.
local COUNT_UP_TO = 10000   -- entries counted one by one; beyond, the estimate XINFO gives

local function id_after(a, b)   -- stream ids are "milliseconds-sequence"
  local a_ms, a_seq = string.match(a, '^(%d+)-(%d+)$')
  local b_ms, b_seq = string.match(b, '^(%d+)-(%d+)$')
  a_ms, a_seq, b_ms, b_seq = tonumber(a_ms), tonumber(a_seq), tonumber(b_ms), tonumber(b_seq)
  return a_ms > b_ms or (a_ms == b_ms and a_seq > b_seq)
end

local trimmed = tonumber(redis.call('HGET', KEYS[2], ARGV[1])) or 0
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {0, trimmed}
end
for _, group in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  local info = {}
  for i = 1, #group, 2 do
    info[group[i]] = group[i + 1]
  end
  if info['name'] == ARGV[1] then
    local last = info['last-delivered-id']
    local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)[1]
    local newest = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)[1]
    if not newest or not id_after(newest[1], last) then
      return {0, trimmed}                                        -- nothing after what it was given
    end
    if id_after(first[1], last) then
      return {redis.call('XLEN', KEYS[1]), trimmed}              -- everything left is waiting
    end
    -- Count what lies after the last delivered id, up to a bound; past it, Redis's own lag.
    local waiting = #redis.call('XRANGE', KEYS[1], '(' .. last, '+', 'COUNT', COUNT_UP_TO + 1)
    if waiting > COUNT_UP_TO and type(info['lag']) == 'number' then
      waiting = info['lag']
    end
    return {waiting, trimmed}
  end
end
return false
