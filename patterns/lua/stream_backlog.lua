-- stream_backlog.lua: how far a consumer group is behind, and what maxlen trimmed before it read it.
--
-- waiting: entries in the stream the group has not been given yet, counted from its last
-- delivered id (not from Redis's lag, which after a trim can keep counting entries that are gone).
-- trimmed_unread: entries trimmed before the group was given them, as counted at each trim by
-- stream_append.lua.
--
-- KEYS[1]  the stream   KEYS[2]  trimmed-before-read counts (hash: group -> entries)
-- ARGV[1]  the consumer group
--
-- Returns {waiting, trimmed_unread}, or nil when the stream exists without this group.
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
    local waiting = #redis.call('XRANGE', KEYS[1], '(' .. info['last-delivered-id'], '+')
    return {waiting, trimmed}
  end
end
return false
