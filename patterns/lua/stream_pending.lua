-- stream_pending.lua: a consumer's pending entries (read, not acknowledged), with their delivery counts.
--
-- Reading them again is a delivery too, so each count is read from the pending list after the
-- read, in the same step: it is the count XPENDING reports. An entry whose data was trimmed
-- (maxlen) while it was pending comes back without fields; it can never be processed, so it is
-- acknowledged here and reported, instead of staying pending forever. Pages of such entries are
-- skipped until COUNT live ones are found or none are left, so an empty answer means "nothing
-- pending", never "a page of trimmed ones".
--
-- KEYS[1]  the stream
-- ARGV[1]  the consumer group   ARGV[2]  the consumer   ARGV[3]  most entries to return
-- ARGV[4]  go on after this id ('' from the start): a call that ran out of budget is continued
--
-- Returns {entries ({id, {field, value, ...}}, ...), their delivery counts, ids of trimmed entries,
--          1 when it stopped at its budget with more to look at (call again from the id), the id}
local count = tonumber(ARGV[3])
local SCAN = 10000   -- pending entries looked at per call at most: the caller calls again for more
local entries, counts, trimmed = {}, {}, {}
local after = ARGV[4] ~= '' and ARGV[4] or '0'   -- each page goes on after the last id of the one before
local seen, more = 0, 0
while #entries < count do
  if seen >= SCAN then
    more = 1
    break
  end
  -- Exactly as many as still wanted: reading an entry of the history counts as a delivery, so a
  -- page must never reach entries this call will not return.
  local asked = math.min(count - #entries, SCAN - seen)
  local found = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', asked,
                           'STREAMS', KEYS[1], after)
  local read = {}
  if found and found[1] then
    -- {{stream, entries}} from Redis; fakeredis answers {stream, entries} inside a script.
    read = type(found[1]) == 'string' and found[2] or found[1][2]
  end
  local trimmed_now = {}
  seen = seen + #read
  for _, entry in ipairs(read) do
    if entry[2] then
      local pending = redis.call('XPENDING', KEYS[1], ARGV[1], entry[1], entry[1], 1)
      entries[#entries + 1] = entry
      counts[#counts + 1] = pending[1] and pending[1][4] or 0
    else
      trimmed_now[#trimmed_now + 1] = entry[1]
      trimmed[#trimmed + 1] = entry[1]
    end
  end
  -- XACK in slices: unpack() of more than a few thousand ids overflows Lua's C stack.
  for first = 1, #trimmed_now, 1000 do
    redis.call('XACK', KEYS[1], ARGV[1], unpack(trimmed_now, first, math.min(first + 999, #trimmed_now)))
  end
  if #trimmed_now == 0 or #read < asked then
    break   -- COUNT live entries are found, or this was the last page
  end
  after = read[#read][1]
end
return {entries, counts, trimmed, more, after}
