-- stream_group.lua: make sure a stream's consumer group exists, and the stream has a TTL.
--
-- Used when an EventStream is made and when a read finds the group missing (the stream
-- expired while nobody appended). MKSTREAM creates an empty stream when there is none; it
-- gets the retention TTL in the same step, so no stream is ever left without one.
--
-- KEYS[1]  the stream
-- ARGV[1]  the consumer group   ARGV[2]  where a new group starts: '$' (new entries) or '0' (all)
-- ARGV[3]  the stream's TTL in ms
--
-- Returns 1 when the group was created, 0 when it existed already.
local created = 0
local ok = pcall(redis.call, 'XGROUP', 'CREATE', KEYS[1], ARGV[1], ARGV[2], 'MKSTREAM')
if ok then
  created = 1
end
if redis.call('PTTL', KEYS[1]) == -1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return created
