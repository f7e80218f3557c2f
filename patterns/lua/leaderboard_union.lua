-- leaderboard_union.lua: the last days' daily boards combined into one board, with its TTL, in one step.
--
-- ZUNIONSTORE then PEXPIRE, atomically: nobody reads a union that never expires, and a union
-- made again (every call of last_days makes it anew) never loses its TTL. A script rather than
-- MULTI/EXEC, because redis.asyncio's cluster transactions cannot send ZUNIONSTORE, whose keys
-- it would have to ask the server about (COMMAND GETKEYS) from another event loop.
--
-- KEYS[1]     the union's key (the board's hash tag, like every daily board's)
-- KEYS[2..]   the daily boards, today first (a day nobody played counts as empty)
-- ARGV[1]     how scores of one member combine: SUM, MIN or MAX
-- ARGV[2]     the union's TTL, ms
-- ARGV[3..]   optional: one weight per daily board, in KEYS' order
--
-- Returns the union's size.
local union = {'ZUNIONSTORE', KEYS[1], #KEYS - 1}
for i = 2, #KEYS do
  union[#union + 1] = KEYS[i]
end
if #ARGV > 2 then
  union[#union + 1] = 'WEIGHTS'
  for i = 3, #ARGV do
    union[#union + 1] = ARGV[i]
  end
end
union[#union + 1] = 'AGGREGATE'
union[#union + 1] = ARGV[1]
local size = redis.call(unpack(union))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return size
