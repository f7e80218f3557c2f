-- stream_claim.lua: take over entries idle too long (XAUTOCLAIM) and report how often each was delivered.
--
-- The delivery count is what tells a handler "this is a redelivery" (and a poison message
-- apart from a fresh one). It is read from the pending list right after the claim, for
-- exactly the claimed ids, in the same step, so it is the count XPENDING reports.
--
-- KEYS[1]  the stream
-- ARGV[1]  the consumer group   ARGV[2]  the consumer taking them over
-- ARGV[3]  minimum idle time in ms   ARGV[4]  most entries to claim
--
-- Returns {entries as XAUTOCLAIM gives them ({id, {field, value, ...}}, ...),
--          their delivery counts, in the same order,
--          ids of pending entries whose data was trimmed away (XAUTOCLAIM drops them)}
local claimed = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], '0-0', 'COUNT', ARGV[4])
local entries, deleted = claimed[2], claimed[3] or {}
local counts = {}
for i, entry in ipairs(entries) do
  local pending = redis.call('XPENDING', KEYS[1], ARGV[1], entry[1], entry[1], 1)
  counts[i] = pending[1] and pending[1][4] or 0
end
return {entries, counts, deleted}
