-- stream_group.lua: make sure a stream's consumer group exists, is registered, and the stream has a TTL.
--
-- Used when an EventStream is made and when a call finds its group missing (the stream expired
-- while nobody appended). MKSTREAM creates an empty stream when there is none; it gets the
-- retention TTL in the same step, so no stream is ever left without one. The group's name goes
-- into the stream's registry of groups, so that an append re-creating an expired stream makes
-- every known group again, not just its own (and this script, when it makes the stream again,
-- does the same).
--
-- KEYS[1]  the stream   KEYS[2]  the registry of its groups (a set)
-- ARGV[1]  the consumer group   ARGV[2]  where a new group starts: '$' (new entries) or '0' (all)
-- ARGV[3]  the stream's TTL in ms
--
-- Returns 1 when the group was created, 0 when it existed already.
if redis.call('EXISTS', KEYS[1]) == 0 then
  -- The stream expired, taking its groups along: make again, from 0, every group it had.
  for _, group in ipairs(redis.call('SMEMBERS', KEYS[2])) do
    if group ~= ARGV[1] then
      redis.call('XGROUP', 'CREATE', KEYS[1], group, '0', 'MKSTREAM')
    end
  end
end
local created = 1
local made = redis.pcall('XGROUP', 'CREATE', KEYS[1], ARGV[1], ARGV[2], 'MKSTREAM')
if type(made) == 'table' and made.err then
  if not string.find(tostring(made.err), 'BUSYGROUP', 1, true) then  -- tostring: fakeredis hands a non-string
    return redis.error_reply(made.err)   -- out of memory, say: not "it exists already"
  end
  created = 0
end
redis.call('SADD', KEYS[2], ARGV[1])
if redis.call('PTTL', KEYS[1]) == -1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
-- The registry outlives the stream (twice its retention), so it still knows the groups when an
-- expired stream is made again.
redis.call('PEXPIRE', KEYS[2], 2 * tonumber(ARGV[3]))
return created
