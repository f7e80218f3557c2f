-- token_bucket.lua: a bucket of CAPACITY tokens, refilled continuously; a request takes COST tokens.
--
-- Allows bursts up to CAPACITY, then a steady RATE. The bucket is stored as the tokens left at
-- the time of the last request; the refill since then is computed, never scheduled.
--
-- KEYS[1]  the caller's bucket: a hash {tokens, ts = ms of the last update}
-- ARGV[1]  now in ms, or -1 to read the server's clock (TIME)
-- ARGV[2]  capacity   ARGV[3]  refill rate in tokens per ms   ARGV[4]  cost
--
-- Returns '<allowed 0/1> <remaining> <retry_after_ms> <reset_after_ms>': one text the client splits;
-- remaining is the whole tokens left, reset_after the time until the bucket is full
local now = tonumber(ARGV[1])
if now < 0 then
  local t = redis.call('TIME')
  now = t[1] * 1000 + t[2] / 1000
end
local capacity, rate, cost = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])

local stored = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens, ts = tonumber(stored[1]), tonumber(stored[2])
if tokens == nil then
  tokens, ts = capacity, now     -- no bucket (or it expired): it is full
end
tokens = math.min(capacity, tokens + math.max(0, now - ts) * rate)

if tokens < cost then
  -- Denied: nothing is written; the refill is computed from the stored time next call too.
  return string.format('0 %d %d %d', math.floor(tokens), math.ceil((cost - tokens) / rate), math.ceil((capacity - tokens) / rate))
end
tokens = tokens - cost
local full_after = math.ceil((capacity - tokens) / rate)
-- A caller whose clock is behind the stored time (clock skew between app servers) was refilled
-- for nothing (max above) and must not move the refill time back, or the next caller on time
-- would be refilled for the same seconds twice.
redis.call('HSET', KEYS[1], 'tokens', tokens, 'ts', math.max(now, ts))
redis.call('PEXPIRE', KEYS[1], math.max(1, full_after))   -- a full bucket needs no key at all
return string.format('1 %d 0 %d', math.floor(tokens), full_after)
