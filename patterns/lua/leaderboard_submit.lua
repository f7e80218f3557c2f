-- leaderboard_submit.lua: record a score on a board and on its time windows, in one step.
--
-- KEYS[1]  the board (sorted set)        KEYS[2]  member details (hash member -> JSON)
-- KEYS[3]  the windows registry (sorted set: window board key -> when it expires, ms)
-- KEYS[4..] candidate window boards: the score counts on each one whose time span contains now
-- ARGV[1]  now in ms, or -1 for the server's clock (TIME): it dates the tie-break and picks the
--          windows; the registry always runs on the server's clock, as key expiry does
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
-- The registry tracks when window boards expire, and keys expire by the server's own clock,
-- even when the caller injects a clock to replay days: its times are always the server's.
local t = redis.call('TIME')
local server_now = t[1] * 1000 + t[2] / 1000
local member, score, mode = ARGV[2], tonumber(ARGV[3]), ARGV[4]
local tie_break = ARGV[5] == '1'
local TIME_SPAN, MAX_SCORE, EPOCH = 4294967296, 2097152, 1577836800

-- Plan first, write second: every check happens before the first write, because Redis does not
-- undo a script's writes when it fails half way (and a retried "sum" would then count twice).
local seconds = math.floor(now / 1000) - EPOCH
if tie_break and (seconds < 0 or seconds >= TIME_SPAN) then
  return redis.error_reply('the tie-break clock must lie between 2020 and 2156 (it packs seconds since '
    .. '2020-01-01 under the score), got ' .. now .. ' ms')
end

-- What one board would store for this submission: a ZADD/ZINCRBY to make, or nothing to do.
local function plan(board)
  local old = tonumber(redis.call('ZSCORE', board, member))
  if not tie_break then
    if mode == 'sum' then
      local total = (old or 0) + score
      if total ~= total or total == math.huge or total == -math.huge then
        return nil, 'the total of ' .. member .. ' would not be a finite number'
      end
      return {'ZINCRBY', board, ARGV[3], member}
    elseif mode == 'best' then
      return {'ZADD', board, 'GT', ARGV[3], member}   -- keeps the higher of old and new
    end
    return {'ZADD', board, ARGV[3], member}
  end
  local old_score = old and math.floor(old / TIME_SPAN)
  local new_score = score
  if mode == 'sum' then
    new_score = (old_score or 0) + score
    if old and new_score == old_score then
      return {}                                        -- the total did not change: its time stands
    end
  elseif mode == 'best' and old_score and old_score >= score then
    return {}                                          -- not better: the earlier time stands
  end
  if new_score < 0 or new_score >= MAX_SCORE then
    return nil, 'score ' .. new_score .. ' is out of the exact range 0..2097151 for tie-broken boards'
  end
  return {'ZADD', board, string.format('%d', new_score * TIME_SPAN + (TIME_SPAN - 1 - seconds)), member}
end

local boards = {{KEYS[1], 0}}
local kinds, matched = {}, {}
for i = 4, #KEYS do
  local at = 8 + (i - 4) * 4
  local kind, span_start, span_end = ARGV[at], tonumber(ARGV[at + 1]), tonumber(ARGV[at + 2])
  kinds[kind] = true
  if span_start <= now and now < span_end then
    matched[kind] = true
    boards[#boards + 1] = {KEYS[i], tonumber(ARGV[at + 3])}
  end
end
for kind in pairs(kinds) do
  if not matched[kind] then
    return redis.error_reply('no ' .. kind .. " window contains the server's time: this app server's clock is "
      .. 'more than a day off the server clock; fix its clock (NTP)')
  end
end
local writes = {}
for i, board in ipairs(boards) do
  local command, problem = plan(board[1])
  if not command then
    return redis.error_reply(problem)
  end
  writes[i] = command
end

-- Write.
for _, command in ipairs(writes) do
  if #command > 0 then
    redis.call(unpack(command))
  end
end
local ttl = tonumber(ARGV[7])
if ARGV[6] ~= '' then
  redis.call('HSET', KEYS[2], member, ARGV[6])
end
if ttl > 0 then                                        -- a board nobody plays on fades away
  redis.call('PEXPIRE', KEYS[1], ttl)
  if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('PEXPIRE', KEYS[2], ttl) end
end
local longest = 0
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', server_now)  -- forget windows that have expired
for i = 2, #boards do
  local board, window_ttl = boards[i][1], boards[i][2]
  redis.call('PEXPIRE', board, window_ttl)
  redis.call('ZADD', KEYS[3], server_now + window_ttl, board)
  longest = math.max(longest, window_ttl)
end
if longest > 0 then
  redis.call('PEXPIRE', KEYS[3], longest)
end

local stored = tonumber(redis.call('ZSCORE', KEYS[1], member))
if tie_break then
  return string.format('%d', math.floor(stored / TIME_SPAN))
end
return redis.call('ZSCORE', KEYS[1], member)   -- the stored double as text: exact, unlike tostring()
