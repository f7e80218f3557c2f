-- stream_pending.lua: a consumer's pending entries (read, not acknowledged), with their delivery counts.
--
-- Reading them again is a delivery too, so each count is read from the pending list after the
-- read, in the same step: it is the count XPENDING reports. An entry whose data was trimmed
-- (maxlen) while it was pending comes back without fields; it can never be processed, so it is
-- acknowledged here and reported, instead of staying pending forever.
--
-- KEYS[1]  the stream
-- ARGV[1]  the consumer group   ARGV[2]  the consumer   ARGV[3]  most entries to return
--
-- Returns {entries ({id, {field, value, ...}}, ...), their delivery counts, ids of trimmed entries}
local found = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', ARGV[3], 'STREAMS', KEYS[1], '0')
local entries, counts, trimmed = {}, {}, {}
local read = {}
if found and found[1] then
  -- {{stream, entries}} from Redis; fakeredis answers {stream, entries} inside a script.
  read = type(found[1]) == 'string' and found[2] or found[1][2]
end
for _, entry in ipairs(read) do
  if entry[2] then
    local pending = redis.call('XPENDING', KEYS[1], ARGV[1], entry[1], entry[1], 1)
    entries[#entries + 1] = entry
    counts[#counts + 1] = pending[1] and pending[1][4] or 0
  else
    trimmed[#trimmed + 1] = entry[1]
  end
end
if #trimmed > 0 then
  redis.call('XACK', KEYS[1], ARGV[1], unpack(trimmed))
end
return {entries, counts, trimmed}
