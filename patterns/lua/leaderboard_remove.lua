-- leaderboard_remove.lua: remove a member from a board and every window board, or clear it all, in one step.
--
-- The window boards are listed in the board's registry, and every key a script touches must be
-- passed in KEYS, so the caller reads the registry first and passes what it read. A submit
-- landing between that read and this script may have added a window (a new day): the script
-- then refuses (-1) and the caller reads the registry again. What it removes is therefore
-- exactly what the registry holds at this instant: nothing is left behind on a new board.
--
-- KEYS[1]  the board   KEYS[2]  member details   KEYS[3]  the windows registry
-- KEYS[4..] the window boards, as the caller read them from the registry (in its order)
-- ARGV[1]  the member to remove, or '' to delete the board and all its keys (clear)
--
-- Returns how many boards the member was removed from (or how many keys were deleted), or -1
-- when the registry changed since the caller read it.
local registered = redis.call('ZRANGE', KEYS[3], 0, -1)
if #registered ~= #KEYS - 3 then
  return -1
end
for i, window in ipairs(registered) do
  if KEYS[i + 3] ~= window then
    return -1
  end
end

local removed = 0
if ARGV[1] == '' then
  for i = 1, #KEYS do
    removed = removed + redis.call('DEL', KEYS[i])
  end
  return removed
end
removed = redis.call('ZREM', KEYS[1], ARGV[1])
for i = 4, #KEYS do
  removed = removed + redis.call('ZREM', KEYS[i], ARGV[1])
end
redis.call('HDEL', KEYS[2], ARGV[1])
return removed
