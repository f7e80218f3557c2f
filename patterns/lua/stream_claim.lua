-- stream_claim.lua: take over entries idle too long (XAUTOCLAIM) and report how often each was delivered.
--
-- The delivery count is what tells a handler "this is a redelivery" (and a poison message
-- apart from a fresh one). It is read from the pending list right after the claim, for
-- exactly the claimed ids, in the same step, so it is the count XPENDING reports.
--
-- XAUTOCLAIM looks at a bounded number of pending entries per call and answers with a cursor;
-- the walk goes on from it until COUNT entries are claimed or the whole pending list was seen,
-- so idle entries behind many busy ones are found too. Pending entries whose data was trimmed
-- are dropped from the pending list by XAUTOCLAIM itself and reported.
--
-- KEYS[1]  the stream
-- ARGV[1]  the consumer group   ARGV[2]  the consumer taking them over
-- ARGV[3]  minimum idle time in ms   ARGV[4]  most entries to claim
-- ARGV[5]  the cursor to go on from ('' from the start): a walk is bounded per call, and continued
--
-- Returns {entries ({id, {field, value, ...}}, ...), their delivery counts, ids of trimmed entries,
--          the cursor ('0-0' when the whole pending list was seen)}
local count = tonumber(ARGV[4])
local STEPS = 10   -- XAUTOCLAIM calls per script at most (each looks at up to 10 x COUNT entries)
local entries, counts, deleted = {}, {}, {}
local cursor = ARGV[5] ~= '' and ARGV[5] or '0-0'
local steps = 0
repeat
  steps = steps + 1
  local claimed = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], cursor,
                             'COUNT', count - #entries)
  cursor = claimed[1]
  for _, entry in ipairs(claimed[2]) do
    local pending = redis.call('XPENDING', KEYS[1], ARGV[1], entry[1], entry[1], 1)
    entries[#entries + 1] = entry
    counts[#counts + 1] = pending[1] and pending[1][4] or 0
  end
  for _, id in ipairs(claimed[3] or {}) do
    deleted[#deleted + 1] = id
  end
until #entries >= count or cursor == '0-0' or steps >= STEPS
return {entries, counts, deleted, cursor}
