-- compare_and_delete.lua: delete a key only if it still holds the caller's token.
--
-- Used to give back a lock or a fill token: a plain DEL could remove a token that has
-- already expired and been taken by someone else.
--
-- KEYS[1]  the key holding a token     ARGV[1]  the caller's token
-- Returns 1 when deleted, 0 when the key held another token or nothing.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
