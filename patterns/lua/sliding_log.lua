-- sliding_log.lua: admit a request if the requests admitted in the last WINDOW weigh less than LIMIT.
--
-- The seed's checkRateLimit, made exact: one atomic step (no request can slip in between the
-- count and the add), the server's clock, a unique member per request (two requests in the
-- same microsecond are two entries, not one), and denied requests are NOT recorded, so a
-- client that keeps retrying is not locked out forever.
--
-- One entry per admitted request, whatever its cost: a request of cost 999,999 is one ZADD,
-- not 999,999 (which would block the server for seconds). Each member carries the running
-- total of units admitted up to and including it, its own cost, and two facts about the log at
-- the moment it was admitted: the units in it (its own included) and the age of its first
-- entry, "<letter><running total>:<cost>:<used>:<age of the first entry in µs>".
-- The running total makes every member unique without a random id; the letter says how many
-- digits it has (A = 1, B = 2, ...), so members of one microsecond sort as they were added (B10
-- after A9) without zero padding.
--
-- Only admitted requests change the log, so the newest entry tells what the log holds: while its
-- first entry is inside the window (whatever window the caller asks about), so is all of it, and
-- the newest entry alone decides. Once the first one has left, the first entry still inside gives
-- the units: newest.total - first.total + first.cost.
--
-- Times are whole microseconds, the resolution of TIME. A log of up to 128 entries is a listpack
-- that every ZADD scans from its start: whole-number scores are read there as integers, where
-- scores with a fraction are parsed from text at every step (five times the cost of a ZADD).
--
-- KEYS[1]  the caller's log: a sorted set, member = "<letter><running total>:<cost>:<used>:<first's age>", score = time in µs
-- ARGV[1]  now in ms, or -1 to read the server's clock (TIME)
-- ARGV[2]  limit   ARGV[3]  window in ms   ARGV[4]  cost (units this request takes)
--
-- Returns '<allowed 0/1> <remaining> <retry_after_ms> <reset_after_ms>': one text the client splits
local now = math.floor(tonumber(ARGV[1]) * 1000 + 0.5)   -- in microseconds
if now < 0 then
  local t = redis.call('TIME')   -- the server's clock, shared by every client
  now = t[1] * 1000000 + t[2]    -- its seconds and microseconds
end
local limit, window, cost = tonumber(ARGV[2]), math.floor(tonumber(ARGV[3]) * 1000 + 0.5), tonumber(ARGV[4])
local asked = now   -- the caller's time: every wait it is told counts from it, even if NOW moves on below

local RENUMBER_AT = 2^52   -- running totals stay exact integers in a Lua double below 2^53

local function parse(member)     -- -> total, cost, used, age of the first entry (nil for an earlier format)
  local total, weight, used, age = string.match(member, '^%u(%d+):(%d+):(%d+):(%d+)$')
  return tonumber(total), tonumber(weight), tonumber(used), tonumber(age)
end

local function entry(total, weight, used, age)
  local digits = string.format('%d', total)
  return string.format('%s%s:%d:%d:%d', string.char(64 + #digits), digits, weight, used, age)
end

local function ms(us)            -- a duration in µs, as the whole ms the caller is told (rounded up)
  return math.ceil(us / 1000)
end

-- A log written by an earlier version of this script, with scores in ms: members
-- "<17-digit running total>:<cost>", or, before entries carried their cost, "<16 hex digits>:<i>",
-- one per unit. Fold it into one entry of the same weight at its newest time. The units then
-- leave the window later than they would have: stricter, never looser, and only once per caller.
local function fold(newest)
  local OLD_TOTAL = '^(%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d):(%d+)$'   -- 17 digits
  local top = string.match(newest[1], OLD_TOTAL)
  local first_total, first_cost
  if top then
    first_total, first_cost = string.match(redis.call('ZRANGE', KEYS[1], 0, 0)[1], OLD_TOTAL)
  end
  local units
  if first_total then
    units = tonumber(top) - tonumber(first_total) + tonumber(first_cost)
  else
    units = redis.call('ZCARD', KEYS[1])
  end
  local at = math.ceil(tonumber(newest[2]) * 1000)
  local member = entry(units, units, units, 0)
  redis.call('DEL', KEYS[1])
  redis.call('ZADD', KEYS[1], at, member)
  redis.call('PEXPIRE', KEYS[1], math.max(1, ms(at + window - now)))   -- DEL took the old TTL with it
  return {member, at}
end

-- After 2^52 units without the log ever emptying: count again from the window's first entry,
-- taking BEFORE off every total (the other fields do not depend on the totals and stay as they
-- are). Only an admitted request calls it, right before its ZADD and the PEXPIRE that restores
-- the TTL the DEL took.
local function renumber(before)
  local entries = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
  redis.call('DEL', KEYS[1])
  for i = 1, #entries, 2 do
    local total, weight, used, age = parse(entries[i])
    redis.call('ZADD', KEYS[1], entries[i + 1], entry(total - before, weight, used, age))
  end
end

-- top: the running total so far; used: the units inside the window; first_at: the time of the
-- window's first entry (an entry exactly WINDOW old has left). An empty log: the new entry will
-- be the first.
local top, used, first_at, first_cost, newest_at, stale = 0, 0, now, nil, now, false
local newest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if newest[1] then
  local newest_cost, age
  top, newest_cost, used, age = parse(newest[1])
  if not top then
    newest = fold(newest)
    top, newest_cost, used, age = parse(newest[1])
  end
  newest_at = tonumber(newest[2])
  -- The clock may step back (NTP, a failover to a server whose clock is behind): never record a
  -- request earlier than the newest one, or the running totals would no longer follow time order.
  now = math.max(now, newest_at)
  first_at = newest_at - age
  if first_at <= now - window then
    -- Entries have left since the newest was admitted: the first one still inside the window
    -- tells the units before it. Those that left are forgotten only if this request is admitted
    -- (a denied request writes nothing).
    stale = true
    local first = redis.call('ZRANGEBYSCORE', KEYS[1], string.format('(%d', now - window), '+inf',
                             'WITHSCORES', 'LIMIT', 0, 1)
    if first[1] then                   -- one is still inside: the units from it on
      local first_total
      first_total, first_cost = parse(first[1])
      used, first_at = top - first_total + first_cost, tonumber(first[2])
    else                               -- every entry has left: the log starts again, totals from 0
      top, used, first_at = 0, 0, now
    end
  end
end

if used + cost <= limit then   -- admitted
  if stale then                 -- forget the entries that have left the window
    redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
  end
  if top + cost >= RENUMBER_AT then
    renumber(top - used)
    top = used
  end
  redis.call('ZADD', KEYS[1], now, entry(top + cost, cost, used + cost, now - first_at))
  redis.call('PEXPIRE', KEYS[1], ms(window))   -- the log disappears once all of it is stale
  return string.format('1 %d 0 %d', limit - used - cost, ms(now + window - asked))
end

-- Denied: the oldest entries that must leave the window for COST more to fit weigh at least
-- MUST_LEAVE units. When the window's first entry alone weighs that (always so for a request of
-- cost 1 at the limit), the request fits once it leaves. Else find the first entry whose running
-- total reaches before + MUST_LEAVE, by a binary search by rank, O(log^2 n): entries that have
-- left the window have totals of at most BEFORE, so the search may start at rank 0.
local must_leave = used + cost - limit
local leaving_at = first_at
if must_leave > (first_cost or 1) then
  local before = top - used
  local low, high = 0, redis.call('ZCARD', KEYS[1]) - 1
  while low < high do
    local middle = math.floor((low + high) / 2)
    if parse(redis.call('ZRANGE', KEYS[1], middle, middle)[1]) - before >= must_leave then
      high = middle
    else
      low = middle + 1
    end
  end
  leaving_at = tonumber(redis.call('ZRANGE', KEYS[1], low, low, 'WITHSCORES')[2])
end
return string.format('0 %d %d %d', limit - used, ms(leaving_at + window - asked), ms(newest_at + window - asked))
