-- stream_append.lua: append an event (or only trim), bound the stream's length, count what trimming
-- takes from each group before it read it, refresh the TTL, and keep the group.
--
-- A stream with a TTL disappears when nobody appends for a while, and its consumer groups go
-- with it. A plain XADD would then create a new stream without the group, and every read would
-- fail with NOGROUP. So when the stream does not exist, the group is created first, at id 0:
-- every entry of the new stream is then delivered.
--
-- maxlen bounds memory, not delivery: past it the oldest entries go, read or not. Trimming is
-- done here rather than by XADD MAXLEN so that what it takes is counted: for every group, the
-- entries trimmed that it had not been given yet are added to its count in KEYS[2], which
-- EventStream.backlog() reports. (Entries already given but not acknowledged are counted when
-- their consumer next asks for them: stream_pending.lua, stream_claim.lua.) The stream may run
-- up to SLACK entries over maxlen, so that trimming, and its bookkeeping, happen once per SLACK
-- appends rather than on every one; one call trims at most BATCH entries, so a stream that is far
-- over its bound (maxlen lowered a lot) shrinks over several calls instead of stalling the server.
--
-- KEYS[1]  the stream   KEYS[2]  trimmed-before-read counts (hash: group -> entries)
-- KEYS[3]  the registry of the stream's groups (a set): all of them come back with the stream
-- ARGV[1]  the consumer group   ARGV[2]  entries to keep   ARGV[3]  the stream's TTL in ms
-- ARGV[4]  the event (JSON), or '' to trim only   ARGV[5]  SLACK (0: trim to exactly ARGV[2])
--
-- Returns the new entry's id (an append), or the number of entries trimmed (a trim).
local function id_after(a, b)   -- stream ids are "milliseconds-sequence"
  local a_ms, a_seq = string.match(a, '^(%d+)-(%d+)$')
  local b_ms, b_seq = string.match(b, '^(%d+)-(%d+)$')
  a_ms, a_seq, b_ms, b_seq = tonumber(a_ms), tonumber(a_seq), tonumber(b_ms), tonumber(b_seq)
  return a_ms > b_ms or (a_ms == b_ms and a_seq > b_seq)
end

local BATCH = 10000
local result = 0
if ARGV[4] ~= '' then
  if redis.call('EXISTS', KEYS[1]) == 0 then
    redis.call('SADD', KEYS[3], ARGV[1])
    for _, group in ipairs(redis.call('SMEMBERS', KEYS[3])) do
      redis.call('XGROUP', 'CREATE', KEYS[1], group, '0', 'MKSTREAM')
    end
  end
  result = redis.call('XADD', KEYS[1], '*', 'event', ARGV[4])
elseif redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end

local keep, slack = tonumber(ARGV[2]), tonumber(ARGV[5])
local excess = redis.call('XLEN', KEYS[1]) - keep
if excess > slack then
  excess = math.min(excess, BATCH)
  local going = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', excess)
  local last_going = going[#going][1]
  for _, group in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
    local info = {}
    for i = 1, #group, 2 do
      info[group[i]] = group[i + 1]
    end
    local delivered = info['last-delivered-id']
    if id_after(last_going, delivered) then
      local unread = 0
      for i = #going, 1, -1 do
        if not id_after(going[i][1], delivered) then
          break
        end
        unread = unread + 1
      end
      redis.call('HINCRBY', KEYS[2], info['name'], unread)
    end
  end
  -- exactly the oldest EXCESS entries, the ones counted above
  redis.call('XTRIM', KEYS[1], 'MAXLEN', redis.call('XLEN', KEYS[1]) - excess)
  if ARGV[4] == '' then
    result = excess
  end
end

redis.call('PEXPIRE', KEYS[1], ARGV[3])
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
end
if redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('PEXPIRE', KEYS[3], 2 * tonumber(ARGV[3]))   -- it outlives the stream: see stream_group.lua
end
return result
