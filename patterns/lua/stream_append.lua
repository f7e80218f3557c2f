-- stream_append.lua: append an event to a stream, bound its length, refresh its TTL, keep its group.
--
-- A stream with a TTL disappears when nobody appends for a while, and its consumer groups go
-- with it. A plain XADD would then create a new stream without the group, and every read would
-- fail with NOGROUP. So when the stream does not exist, the group is created first, at id 0:
-- every entry of the new stream is then delivered. All of it is one step: the group exists
-- whenever the stream does.
--
-- KEYS[1]  the stream
-- ARGV[1]  the consumer group   ARGV[2]  about how many entries to keep (XADD MAXLEN ~)
-- ARGV[3]  the stream's TTL in ms (retention after the last append)   ARGV[4]  the event (JSON)
--
-- Returns the new entry's id.
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('XGROUP', 'CREATE', KEYS[1], ARGV[1], '0', 'MKSTREAM')
end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'event', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return id
