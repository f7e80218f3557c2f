-- leaderboard_submit.lua: record a score on a board and on its time windows, in one step.
--
-- KEYS[1]  the board (sorted set)        KEYS[2]  member details (hash member -> JSON)
-- KEYS[3]  the windows registry (sorted set: window board key -> when it expires, ms)
-- KEYS[4..] candidate window boards: the score counts on each one whose time span contains now
-- ARGV[1]  now in ms, or -1 for the server's clock (TIME)
-- ARGV[2]  member   ARGV[3]  score   ARGV[4]  mode: best | sum | set
-- ARGV[5]  1 = earlier achiever wins ties (composite scores), 0 = plain scores
-- ARGV[6]  details JSON, or '' to leave them as they are
-- ARGV[7]  TTL of the board and its details in ms (0: none)
-- ARGV[8..] per candidate, in the order of KEYS[4..]: its kind (daily, weekly), the start and
--          end of its span in ms (end excluded), and its TTL in ms
--
-- Which day and week a score counts on is decided here, by the server's clock, like the time a
-- tie is broken by: app servers whose clocks disagree still agree on both. The caller cannot
-- know the server's day, so it passes the windows around its own (yesterday, today, tomorrow),
-- and every kind must find exactly one of them containing the server's now.
--
-- Composite scores (tie-break): score * 2^32 + (2^32 - 1 - seconds since 2020-01-01), so an
-- earlier achievement of the same score sorts higher. A double is exact up to 2^53, so scores
-- must be whole numbers below 2^21 (2,097,152); that is checked here and in Python.
--
-- Returns the member's score on the main board after this submission, exactly as stored (text).
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
    return redis.call('ZSCORE', board, member)   -- the stored double as text: exact, unlike tostring()
  end
  local old = tonumber(redis.call('ZSCORE', board, member))
  local old_score = old and math.floor(old / TIME_SPAN)
  local new_score = score
  if mode == 'sum' then
    new_score = (old_score or 0) + score
  elseif mode == 'best' and old_score and old_score >= score then
    return string.format('%d', old_score)              -- not better: the earlier time stands
  end
  if new_score < 0 or new_score >= MAX_SCORE then
    return redis.error_reply('score ' .. new_score .. ' is out of the exact range 0..2097151 for tie-broken boards')
  end
  local seconds = math.floor(now / 1000) - EPOCH
  redis.call('ZADD', board, new_score * TIME_SPAN + (TIME_SPAN - 1 - seconds), member)
  return string.format('%d', new_score)
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
local kinds, matched = {}, {}
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)  -- forget windows that have expired
for i = 4, #KEYS do
  local at = 8 + (i - 4) * 4
  local kind, span_start, span_end = ARGV[at], tonumber(ARGV[at + 1]), tonumber(ARGV[at + 2])
  local window_ttl = tonumber(ARGV[at + 3])
  kinds[kind] = true
  if span_start <= now and now < span_end then
    matched[kind] = true
    local window_result = record(KEYS[i])
    if type(window_result) == 'table' then return window_result end
    redis.call('PEXPIRE', KEYS[i], window_ttl)
    redis.call('ZADD', KEYS[3], now + window_ttl, KEYS[i])
    longest = math.max(longest, window_ttl)
  end
end
for kind in pairs(kinds) do
  if not matched[kind] then
    return redis.error_reply('no ' .. kind .. " window contains the server's time: this app server's clock is "
      .. 'more than a day off the server clock; fix its clock (NTP)')
  end
end
if longest > 0 then
  redis.call('PEXPIRE', KEYS[3], longest)
end
return result
