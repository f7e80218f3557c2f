-- leaderboard_submit.lua: record a score on a board and on its time windows, in one step.
--
-- KEYS[1]  the board (sorted set)        KEYS[2]  member details (hash member -> JSON)
-- KEYS[3]  the windows registry (sorted set: window board key -> when it expires, ms)
-- KEYS[4..] the window boards this score also counts on (today's, this week's)
-- ARGV[1]  now in ms, or -1 for the server's clock (TIME)
-- ARGV[2]  member   ARGV[3]  score   ARGV[4]  mode: best | sum | set
-- ARGV[5]  1 = earlier achiever wins ties (composite scores), 0 = plain scores
-- ARGV[6]  details JSON, or '' to leave them as they are
-- ARGV[7]  TTL of the board and its details in ms (0: none)
-- ARGV[8..] TTL in ms of each window board, in the order of KEYS[4..]
--
-- Composite scores (tie-break): score * 2^32 + (2^32 - 1 - seconds since 2020-01-01), so an
-- earlier achievement of the same score sorts higher. A double is exact up to 2^53, so scores
-- must be whole numbers below 2^21 (2,097,152); that is checked here and in Python.
--
-- Returns the member's score on the main board after this submission (as text).
local now = tonumber(ARGV[1])
if now < 0 then
  local t = redis.call('TIME')
  now = t[1] * 1000 + t[2] / 1000
end
local member, score, mode = ARGV[2], tonumber(ARGV[3]), ARGV[4]
local tie_break = ARGV[5] == '1'
local TIME_SPAN, MAX_SCORE, EPOCH = 4294967296, 2097152, 1577836800

local function record(board)
  if not tie_break then
    if mode == 'best' then
      redis.call('ZADD', board, 'GT', score, member)   -- keeps the higher of old and new
    elseif mode == 'sum' then
      redis.call('ZINCRBY', board, score, member)
    else
      redis.call('ZADD', board, score, member)
    end
    return tonumber(redis.call('ZSCORE', board, member))
  end
  local old = tonumber(redis.call('ZSCORE', board, member))
  local old_score = old and math.floor(old / TIME_SPAN)
  local new_score = score
  if mode == 'sum' then
    new_score = (old_score or 0) + score
  elseif mode == 'best' and old_score and old_score >= score then
    return old_score                                   -- not better: the earlier time stands
  end
  if new_score < 0 or new_score >= MAX_SCORE then
    return redis.error_reply('score ' .. new_score .. ' is out of the exact range 0..2097151 for tie-broken boards')
  end
  local seconds = math.floor(now / 1000) - EPOCH
  redis.call('ZADD', board, new_score * TIME_SPAN + (TIME_SPAN - 1 - seconds), member)
  return new_score
end

local result = record(KEYS[1])
if type(result) == 'table' then return result end     -- an error reply
local ttl = tonumber(ARGV[7])
if ARGV[6] ~= '' then
  redis.call('HSET', KEYS[2], member, ARGV[6])
end
if ttl > 0 then                                        -- a board nobody plays on fades away
  redis.call('PEXPIRE', KEYS[1], ttl)
  if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('PEXPIRE', KEYS[2], ttl) end
end

local longest = 0
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)  -- forget windows that have expired
for i = 4, #KEYS do
  local window_ttl = tonumber(ARGV[i + 4])
  local window_result = record(KEYS[i])
  if type(window_result) == 'table' then return window_result end
  redis.call('PEXPIRE', KEYS[i], window_ttl)
  redis.call('ZADD', KEYS[3], now + window_ttl, KEYS[i])
  longest = math.max(longest, window_ttl)
end
if longest > 0 then
  redis.call('PEXPIRE', KEYS[3], longest)
end
return tostring(result)
