-- stream_backlog.lua: how far a consumer group is behind, and what maxlen trimmed before it read it.
--
-- XINFO GROUPS reports the group's lag: entries added to the stream that the group has not
-- read yet, counted from the stream's total of appends, so it still counts entries that were
-- trimmed away before anyone read them. When even the stream's oldest entry is newer than the
-- last one the group was given, every entry left is waiting and the rest of the lag was lost.
--
-- KEYS[1]  the stream   ARGV[1]  the consumer group
--
-- Returns {entries waiting, entries trimmed unread}, or nil when Redis cannot tell (no such group,
-- or a lag Redis cannot compute because entries were deleted with XDEL).
local function id_after(a, b)   -- stream ids are "milliseconds-sequence"
  local a_ms, a_seq = string.match(a, '^(%d+)-(%d+)$')
  local b_ms, b_seq = string.match(b, '^(%d+)-(%d+)$')
  a_ms, a_seq, b_ms, b_seq = tonumber(a_ms), tonumber(a_seq), tonumber(b_ms), tonumber(b_seq)
  return a_ms > b_ms or (a_ms == b_ms and a_seq > b_seq)
end

if redis.call('EXISTS', KEYS[1]) == 0 then
  return {0, 0}
end
for _, group in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  local info = {}
  for i = 1, #group, 2 do
    info[group[i]] = group[i + 1]
  end
  if info['name'] == ARGV[1] then
    local lag = info['lag']
    if type(lag) ~= 'number' then
      return false
    end
    -- Redis computes lag as appends minus entries read; computing it the same way here keeps
    -- fakeredis, whose lag drifts after an XTRIM, in step with a real server.
    local stream = redis.call('XINFO', 'STREAM', KEYS[1])
    for i = 1, #stream, 2 do
      if stream[i] == 'entries-added' and type(info['entries-read']) == 'number' then
        lag = stream[i + 1] - info['entries-read']
      end
    end
    local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)[1]
    if first and id_after(first[1], info['last-delivered-id']) then
      local length = redis.call('XLEN', KEYS[1])
      return {length, lag - length}
    end
    return {lag, 0}
  end
end
return false
