-- progress_record.lua: note one run of an exercise's check() in the attendee's own namespace.
--
-- The workshop host's progress board reads these hashes (patterns/progress.py). One script
-- rather than five commands: the try is counted and its outcome written in one step, so the
-- board never shows a try without its outcome, and the times come from the server's clock,
-- the one the board compares them with ("idle for 10 minutes"), whatever each laptop's says.
--
-- KEYS[1]  the attendee's hash for one exercise: <namespace>:progress:{<exercise>}
-- ARGV[1]  the outcome: "passed" or "not yet"
-- ARGV[2]  the checker's one line: what passed, or the first thing that is wrong
-- ARGV[3]  how long the record lives, in seconds (renewed on every try)
--
-- Fields: outcome, message, tries, first (the first try), last (this try), passed (the first
-- pass, kept when a later try fails: the attendee finished it once). Times in whole seconds.
-- Returns the number of tries so far.
local now = redis.call('TIME')[1]
local tries = redis.call('HINCRBY', KEYS[1], 'tries', 1)
redis.call('HSETNX', KEYS[1], 'first', now)
redis.call('HSET', KEYS[1], 'outcome', ARGV[1], 'message', ARGV[2], 'last', now)
if ARGV[1] == 'passed' then
  redis.call('HSETNX', KEYS[1], 'passed', now)
end
redis.call('EXPIRE', KEYS[1], ARGV[3])
return tries
